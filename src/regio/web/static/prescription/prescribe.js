// The doctor's prescribing screen: drug search per line, "check and save" as a draft through the API
// (its findings shown at once), a reason for each major finding, and signing with the doctor's PIN.
(function () {
  "use strict";
  var root = document.getElementById("prescribe");
  if (!root || !window.RegioRx) return;
  var Rx = window.RegioRx;
  var T = Rx.T;
  var consultationId = root.getAttribute("data-consultation-id");
  var form = document.getElementById("rx-form");
  var linesBox = document.getElementById("lines");
  var template = document.getElementById("line-template");
  var findingsBox = document.getElementById("findings");
  var findingsList = document.getElementById("findings-list");
  var summary = document.getElementById("findings-summary");
  var signBox = document.getElementById("sign-box");
  var statusBox = document.getElementById("rx-status");
  var MAX_LINES = 5;
  var SEVERITY = {
    contraindicated: ["禁忌", "Contraindicated"],
    major: ["严重", "Major"],
    moderate: ["中度", "Moderate"],
    minor: ["轻微", "Minor"],
    no_data: ["无数据", "No data"]
  };
  var editing = null; // {id, revision} of the draft the form holds; null for a new one
  var drafts = [];
  try { drafts = JSON.parse(document.getElementById("rx-drafts").textContent || "[]"); } catch (ignored) { drafts = []; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function renumber() {
    var lines = linesBox.querySelectorAll(".rx-line");
    Array.prototype.forEach.call(lines, function (line, index) {
      line.querySelector(".line-no").textContent = String(index + 1);
      line.querySelector(".remove-line").hidden = lines.length === 1;
    });
    document.getElementById("add-line").disabled = lines.length >= MAX_LINES;
  }

  function describe(drug) {
    return (Rx.zh ? drug.name_zh : drug.name_en) + " " + drug.strength + " · " + drug.dosage_form;
  }

  function choose(line, drug) {
    line.querySelector(".drug-code").value = drug.code;
    line.setAttribute("data-code", drug.code);
    line.querySelector(".drug-search").value = Rx.zh ? drug.name_zh : drug.name_en;
    var chosen = line.querySelector(".drug-chosen");
    chosen.textContent = "✓ " + describe(drug);
    if (drug.control && drug.control !== "none") chosen.appendChild(el("span", "badge bad", T("特殊管理", "Controlled")));
    if (drug.cold_chain) chosen.appendChild(el("span", "badge warn", T("冷链", "Cold chain")));
    var unit = line.querySelector(".dose-unit");
    if (drug.dose_unit && unit.querySelector('option[value="' + drug.dose_unit + '"]')) unit.value = drug.dose_unit;
    var results = line.querySelector(".drug-results");
    while (results.firstChild) results.removeChild(results.firstChild);
  }

  function showResults(line, drugs) {
    var results = line.querySelector(".drug-results");
    while (results.firstChild) results.removeChild(results.firstChild);
    if (!drugs.length) {
      results.appendChild(el("li", "muted", T("目录中没有匹配的药品", "No drug in the catalog matches")));
      return;
    }
    drugs.forEach(function (drug) {
      var item = el("li");
      var button = el("button", "drug-option");
      button.type = "button";
      button.setAttribute("role", "option");
      button.setAttribute("data-code", drug.code);
      button.appendChild(el("strong", "", Rx.zh ? drug.name_zh : drug.name_en));
      button.appendChild(document.createTextNode(" " + drug.strength + " · " + drug.dosage_form + " "));
      if (drug.control && drug.control !== "none") button.appendChild(el("span", "badge bad controlled", T("特殊管理", "Controlled")));
      if (drug.cold_chain) button.appendChild(el("span", "badge warn", T("冷链", "Cold chain")));
      if (drug.insurance_class) button.appendChild(el("span", "badge", T("医保", "NRDL ") + drug.insurance_class));
      button.addEventListener("click", function () { choose(line, drug); });
      item.appendChild(button);
      results.appendChild(item);
    });
  }

  function addLine(values) {
    if (linesBox.querySelectorAll(".rx-line").length >= MAX_LINES) return null;
    var line = template.content.firstElementChild.cloneNode(true);
    var search = line.querySelector(".drug-search");
    var timer = null;
    var asked = 0;
    search.addEventListener("input", function () {
      // a changed name no longer names the picked drug
      line.querySelector(".drug-code").value = "";
      line.removeAttribute("data-code");
      line.querySelector(".drug-chosen").textContent = "";
      clearTimeout(timer);
      var query = search.value.trim();
      if (!query) { line.querySelector(".drug-results").textContent = ""; return; }
      timer = setTimeout(function () {
        var mine = ++asked;
        Rx.api("GET", "/api/care/drugs?limit=10&q=" + encodeURIComponent(query))
          .then(function (drugs) { if (mine === asked) showResults(line, drugs || []); })
          .catch(Rx.showError);
      }, 200);
    });
    line.querySelector(".remove-line").addEventListener("click", function () {
      line.remove();
      renumber();
    });
    if (values) {
      choose(line, {
        code: values.drug_code, name_zh: values.name_zh, name_en: values.name_en, strength: values.strength,
        dosage_form: values.dosage_form, dose_unit: values.dose_unit, cold_chain: values.cold_chain, control: "none"
      });
      line.querySelector(".dose").value = values.dose;
      line.querySelector(".route").value = values.route;
      line.querySelector(".frequency").value = values.frequency;
      line.querySelector(".days").value = values.days;
      line.querySelector(".quantity").value = values.quantity || "";
      line.querySelector(".instructions").value = values.instructions || "";
    }
    linesBox.appendChild(line);
    renumber();
    return line;
  }

  function tristate(value) { return value === "true" ? true : (value === "false" ? false : null); }
  function number(value, parse) { var n = parse(value); return value === "" || isNaN(n) ? null : n; }

  function collect() {
    var missing = [];
    var lines = Array.prototype.map.call(linesBox.querySelectorAll(".rx-line"), function (line, index) {
      var code = line.querySelector(".drug-code").value;
      if (!code) missing.push(index + 1);
      return {
        drug_code: code,
        dose: number(line.querySelector(".dose").value, parseFloat),
        dose_unit: line.querySelector(".dose-unit").value,
        route: line.querySelector(".route").value,
        frequency: line.querySelector(".frequency").value,
        days: number(line.querySelector(".days").value, function (v) { return parseInt(v, 10); }),
        quantity: number(line.querySelector(".quantity").value, function (v) { return parseInt(v, 10); }),
        instructions: line.querySelector(".instructions").value.trim()
      };
    });
    var kind = form.querySelector('input[name="kind"]:checked');
    var allergies = document.getElementById("allergies").value.split(/[,，、;；]/)
      .map(function (s) { return s.trim(); }).filter(function (s) { return s; });
    return {
      missing: missing,
      body: {
        kind: kind ? kind.value : "ordinary",
        lines: lines,
        patient: {
          weight_kg: number(document.getElementById("weight").value, parseFloat),
          pregnant: tristate(document.getElementById("pregnant").value),
          trimester: number(document.getElementById("trimester").value, function (v) { return parseInt(v, 10); }),
          lactating: tristate(document.getElementById("lactating").value),
          allergies: allergies
        },
        note: document.getElementById("note").value.trim()
      }
    };
  }

  function renderFindings(findings, overrides) {
    while (findingsList.firstChild) findingsList.removeChild(findingsList.firstChild);
    var blocking = 0;
    var major = 0;
    findings.forEach(function (f) {
      var item = el("li", "finding sev-" + f.severity);
      item.setAttribute("data-key", f.key);
      item.setAttribute("data-severity", f.severity);
      var label = SEVERITY[f.severity] || [f.severity, f.severity];
      item.appendChild(el("span", "badge sev", T(label[0], label[1])));
      item.appendChild(document.createTextNode(" " + (Rx.zh ? f.message_zh : f.message_en)));
      if (f.management_zh && Rx.zh) item.appendChild(el("p", "muted", "处理建议：" + f.management_zh));
      item.appendChild(el("p", "muted source", T("来源：", "Source: ") + f.source));
      if (f.severity === "contraindicated") {
        blocking += 1;
        item.appendChild(el("p", "blocking", T("禁忌：须修改处方后才能签名。", "Contraindicated: change the prescription before signing.")));
      }
      if (f.severity === "major") {
        major += 1;
        var label2 = el("label", "override");
        label2.appendChild(document.createTextNode(T("坚持开具的理由（必填）", "Your reason to go ahead (required)")));
        var input = el("input", "override-reason");
        input.setAttribute("data-key", f.key);
        input.maxLength = 500;
        input.value = (overrides && overrides[f.key]) || "";
        label2.appendChild(input);
        item.appendChild(label2);
      }
      findingsList.appendChild(item);
    });
    if (!findings.length) summary.textContent = T("安全审查未发现问题。", "The safety checks found nothing.");
    else if (blocking) summary.textContent = T("发现禁忌，不能签名：请修改处方。", "Contraindicated: this cannot be signed as it is.");
    else if (major) summary.textContent = T("有严重提示：签名前请逐条填写理由。", "Major findings: give a reason for each before signing.");
    else summary.textContent = T("请查看以下提示。", "Please read the findings below.");
    summary.className = blocking ? "alert error" : (major ? "alert" : "muted");
    findingsBox.hidden = false;
    signBox.hidden = blocking > 0;
  }

  function upsertListItem(rx) {
    var list = document.getElementById("written-list");
    var none = document.getElementById("none-written");
    if (none) none.remove();
    var item = list.querySelector('li.rx-item[data-prescription-id="' + rx.id + '"]');
    if (!item) {
      item = el("li", "rx-item");
      item.setAttribute("data-prescription-id", rx.id);
      list.insertBefore(item, list.firstChild);
    }
    item.setAttribute("data-status", rx.status);
    item.textContent = "";
    var row = el("div", "row");
    row.appendChild(el("strong", "", "#" + rx.id));
    row.appendChild(el("span", "badge", Rx.zh ? rx.status_zh : rx.status_en));
    row.appendChild(el("span", "muted", T("第 ", "revision ") + rx.revision + T(" 版", "")));
    item.appendChild(row);
    item.appendChild(el("p", "", rx.lines.map(function (l) { return (Rx.zh ? l.name_zh : l.name_en) + " " + l.strength; }).join("、")));
  }

  function holding(rx) {
    editing = { id: rx.id, revision: rx.revision };
    document.getElementById("editor-title").textContent = T("处方 #", "Prescription #") + rx.id;
    var badge = document.getElementById("editing-badge");
    badge.textContent = (Rx.zh ? rx.status_zh : rx.status_en) + " · " + T("第 ", "revision ") + rx.revision + T(" 版", "");
    badge.hidden = false;
    document.getElementById("new-rx").hidden = false;
  }

  function fill(rx) {
    var kind = document.getElementById("kind-" + rx.kind);
    if (kind) kind.checked = true;
    var facts = rx.patient_facts || {};
    document.getElementById("weight").value = facts.weight_kg == null ? "" : facts.weight_kg;
    document.getElementById("pregnant").value = facts.pregnant == null ? "" : String(facts.pregnant);
    document.getElementById("trimester").value = facts.trimester == null ? "" : String(facts.trimester);
    document.getElementById("lactating").value = facts.lactating == null ? "" : String(facts.lactating);
    document.getElementById("allergies").value = (facts.allergies || []).join("，");
    document.getElementById("note").value = rx.note || "";
    while (linesBox.firstChild) linesBox.removeChild(linesBox.firstChild);
    rx.lines.forEach(function (line) { addLine(line); });
    if (!rx.lines.length) addLine();
    holding(rx);
    renderFindings(rx.findings || [], rx.overrides);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    Rx.clearError();
    var collected = collect();
    if (collected.missing.length) {
      Rx.showError(T("请为第 " + collected.missing.join("、") + " 种药从搜索结果中选择药品。",
        "Pick drug " + collected.missing.join(", ") + " from the search results."));
      return;
    }
    var body = collected.body;
    var save = document.getElementById("save");
    var call;
    if (editing) {
      body.revision = editing.revision;
      call = Rx.api("PUT", "/api/care/prescriptions/" + editing.id, body);
    } else {
      call = Rx.api("POST", "/api/care/consultations/" + consultationId + "/prescriptions", body);
    }
    Rx.busy(save, true);
    call.then(function (rx) {
      holding(rx);
      upsertListItem(rx);
      renderFindings(rx.findings || [], rx.overrides);
      statusBox.textContent = T("草稿已保存（第 " + rx.revision + " 版）。", "Draft saved (revision " + rx.revision + ").");
      statusBox.hidden = false;
      findingsBox.scrollIntoView({ block: "start" });
    }).catch(Rx.showError).then(function () { Rx.busy(save, false); });
  });

  document.getElementById("sign-form").addEventListener("submit", function (event) {
    event.preventDefault();
    Rx.clearError();
    if (!editing) return;
    var overrides = {};
    Array.prototype.forEach.call(findingsList.querySelectorAll(".override-reason"), function (input) {
      input.removeAttribute("aria-invalid");
      if (input.value.trim()) overrides[input.getAttribute("data-key")] = input.value.trim();
    });
    var pin = document.getElementById("sign-pin");
    var button = document.getElementById("sign");
    Rx.busy(button, true);
    Rx.api("POST", "/api/care/prescriptions/" + editing.id + "/sign", {
      pin: pin.value, revision: editing.revision, overrides: overrides
    }).then(function (rx) {
      pin.value = "";
      upsertListItem(rx);
      window.location.assign(window.location.pathname + "?notice=signed#written");
    }).catch(function (error) {
      pin.value = "";
      Rx.busy(button, false);
      Rx.showError(error);
      var missing = (error.details && error.details.missing) || [];
      missing.forEach(function (key) {
        var input = findingsList.querySelector('.override-reason[data-key="' + (window.CSS && CSS.escape ? CSS.escape(key) : key) + '"]');
        if (input) input.setAttribute("aria-invalid", "true");
      });
    });
  });

  document.getElementById("add-line").addEventListener("click", function () {
    var line = addLine();
    if (line) line.querySelector(".drug-search").focus();
  });

  document.getElementById("new-rx").addEventListener("click", function () {
    editing = null;
    form.reset();
    while (linesBox.firstChild) linesBox.removeChild(linesBox.firstChild);
    addLine();
    findingsBox.hidden = true;
    signBox.hidden = true;
    statusBox.hidden = true;
    document.getElementById("editor-title").textContent = T("新处方", "New prescription");
    document.getElementById("editing-badge").hidden = true;
    document.getElementById("new-rx").hidden = true;
  });

  Array.prototype.forEach.call(document.querySelectorAll(".edit-rx"), function (button) {
    button.addEventListener("click", function () {
      var id = parseInt(button.getAttribute("data-prescription-id"), 10);
      var rx = drafts.filter(function (d) { return d.id === id; })[0];
      if (!rx) return;
      Rx.clearError();
      fill(rx);
      document.getElementById("rx-editor").scrollIntoView({ block: "start" });
    });
  });

  var keyForm = document.getElementById("key-form");
  if (keyForm) {
    keyForm.addEventListener("submit", function (event) {
      event.preventDefault();
      Rx.clearError();
      var pin = document.getElementById("key-pin");
      var again = document.getElementById("key-pin-again");
      if (pin.value !== again.value) {
        Rx.showError(T("两次输入的 PIN 不一致。", "The two PINs differ."));
        return;
      }
      var button = document.getElementById("key-create");
      Rx.busy(button, true);
      Rx.api("POST", "/api/care/prescriptions/signing-key", { pin: pin.value }).then(function () {
        pin.value = "";
        again.value = "";
        document.getElementById("key-setup").hidden = true;
        statusBox.textContent = T("签名密钥已生成：签名时输入您的 PIN。", "Signing key created: enter your PIN when you sign.");
        statusBox.hidden = false;
      }).catch(function (error) {
        Rx.busy(button, false);
        Rx.showError(error);
      });
    });
  }

  addLine();
})();
