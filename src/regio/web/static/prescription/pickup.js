// The pickup desk: the pharmacy's id and the patient's one-time code go to the API, which dispenses
// once; the answer lists what to hand over.
(function () {
  "use strict";
  var form = document.getElementById("pickup-form");
  if (!form || !window.RegioRx) return;
  var Rx = window.RegioRx;
  var T = Rx.T;
  var result = document.getElementById("pickup-result");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function show(rx) {
    result.textContent = "";
    var heading = el("h2", "", T("已发药", "Dispensed"));
    heading.id = "dispensed";
    result.appendChild(heading);
    result.appendChild(el("p", "", T("处方 #", "Prescription #") + rx.id + " · " + rx.patient_name + " · " +
      T("医师 ", "doctor ") + rx.doctor_name + (rx.dispense ? " · " + Rx.local(rx.dispense.dispensed_at) : "")));
    var list = el("ol", "stack rx-lines");
    list.id = "dispensed-lines";
    rx.lines.forEach(function (line) {
      var item = el("li", "rx-line-view");
      item.setAttribute("data-drug-code", line.drug_code);
      item.appendChild(el("strong", "", Rx.zh ? line.name_zh : line.name_en));
      item.appendChild(document.createTextNode(" " + line.strength + " · " + line.dosage_form +
        " × " + (line.quantity || 1) + " · " + line.dose + " " + line.dose_unit + " " + (Rx.zh ? line.frequency_zh : line.frequency)));
      if (line.cold_chain) item.appendChild(el("span", "badge warn", T("冷链", "Cold chain")));
      list.appendChild(item);
    });
    result.appendChild(list);
    result.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    Rx.clearError();
    result.hidden = true;
    var button = document.getElementById("dispense");
    var code = document.getElementById("pickup-code-input");
    Rx.busy(button, true);
    Rx.api("POST", "/api/care/dispensing/pickup", {
      pharmacy_id: parseInt(document.getElementById("pharmacy-id").value, 10) || 0,
      code: code.value.trim()
    }).then(function (rx) {
      code.value = "";
      show(rx);
    }).catch(Rx.showError).then(function () { Rx.busy(button, false); });
  });
})();
