// The patient's prescription: choose a pharmacy and pickup or delivery; the API takes the stock and
// answers with the pickup code, and the page reloads to show it.
(function () {
  "use strict";
  var form = document.getElementById("fulfilment-form");
  if (!form || !window.RegioRx) return;
  var Rx = window.RegioRx;
  var id = form.getAttribute("data-prescription-id");
  var delivery = document.getElementById("delivery-fields");

  function method() {
    var chosen = form.querySelector('input[name="method"]:checked');
    return chosen ? chosen.value : "pickup";
  }

  function toggle() { delivery.hidden = method() !== "delivery"; }
  Array.prototype.forEach.call(form.querySelectorAll('input[name="method"]'), function (input) {
    input.addEventListener("change", toggle);
  });
  toggle();

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    Rx.clearError();
    var pharmacy = form.querySelector('input[name="pharmacy_id"]:checked');
    if (!pharmacy) {
      Rx.showError(Rx.T("请选择药房。", "Choose a pharmacy."));
      return;
    }
    var body = { pharmacy_id: parseInt(pharmacy.value, 10), method: method() };
    if (body.method === "delivery") {
      body.recipient_name = document.getElementById("recipient-name").value.trim();
      body.recipient_phone = document.getElementById("recipient-phone").value.trim();
      body.address = document.getElementById("recipient-address").value.trim();
    }
    var button = document.getElementById("choose");
    Rx.busy(button, true);
    Rx.api("POST", "/api/care/prescriptions/" + id + "/fulfilment", body).then(function () {
      window.location.assign(window.location.pathname + "?notice=fulfilment");
    }).catch(function (error) {
      Rx.busy(button, false);
      Rx.showError(error);
    });
  });
})();
