// The report form: show the scale of the chosen kind, the area fields of the chosen way, and the
// types of the chosen category. Without JavaScript every field stays visible and still works.
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }
  function chosen(name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : "";
  }
  function refresh() {
    var kind = chosen("kind");
    document.getElementById("level-choice").hidden = kind !== "risk";
    document.getElementById("grade-choice").hidden = kind !== "event";
    var mode = chosen("area_mode");
    form.querySelectorAll(".area-part").forEach(function (part) {
      part.hidden = part.getAttribute("data-mode") !== mode;
    });
    var category = document.getElementById("category").value;
    var select = document.getElementById("event-type");
    var firstVisible = null;
    Array.prototype.forEach.call(select.options, function (option) {
      var fits = option.getAttribute("data-category") === category;
      option.hidden = !fits;
      option.disabled = !fits;
      if (fits && firstVisible === null) { firstVisible = option; }
    });
    if (select.selectedOptions.length && select.selectedOptions[0].disabled && firstVisible) {
      firstVisible.selected = true;
    }
  }
  form.addEventListener("change", refresh);
  refresh();
})();
