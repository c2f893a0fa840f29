// Diagnosis search in the record editor: asks the ICD-10 index as the doctor types and offers the
// matches; picking one puts its code in the field the form sends. Without script the field takes a code.
(function () {
  "use strict";
  var input = document.getElementById("icd-search");
  var list = document.getElementById("icd-results");
  var chosen = document.getElementById("icd-chosen");
  if (!input || !list) return;
  var zh = (input.getAttribute("data-lang") || "zh-CN").indexOf("zh") === 0;
  var timer = null;
  var asked = 0;

  function clear() {
    while (list.firstChild) list.removeChild(list.firstChild);
  }

  function show(entries) {
    clear();
    entries.forEach(function (entry) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "icd-option";
      button.setAttribute("role", "option");
      button.setAttribute("data-code", entry.code);
      button.textContent = entry.code + " " + (zh ? entry.name_zh : entry.name_en);
      button.addEventListener("click", function () {
        input.value = entry.code;
        if (chosen) chosen.textContent = entry.code + " " + (zh ? entry.name_zh : entry.name_en);
        clear();
        input.focus();
      });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function search() {
    var query = input.value.trim();
    if (!query) { clear(); return; }
    var mine = ++asked;
    fetch("/api/care/records/icd10?limit=10&q=" + encodeURIComponent(query), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (entries) { if (mine === asked) show(entries); })
      .catch(function () { /* the field still takes a typed code */ });
  }

  input.addEventListener("input", function () {
    if (chosen) chosen.textContent = "";
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
})();
