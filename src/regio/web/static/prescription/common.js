// Shared by the prescription screens: JSON calls to the API with the session cookie and the CSRF
// header, and one aria-live alert that shows a refusal in the page's language. Plain JS, no build step.
(function () {
  "use strict";
  var root = document.querySelector("[data-csrf]");
  var csrf = root ? root.getAttribute("data-csrf") : "";
  var zh = ((root && root.getAttribute("data-lang")) || document.documentElement.lang || "zh").indexOf("zh") === 0;

  function T(a, b) { return zh ? a : b; }

  // A refusal the API did not word (a proxy's 502, a dropped connection) still gets a sentence.
  function plainError(status) {
    return {
      code: "http_" + status,
      message_zh: status ? "请求失败（" + status + "），请稍后重试。" : "网络连接失败，请检查网络后重试。",
      message_en: status ? "The request failed (" + status + "); try again later." : "No connection; check the network and try again.",
      details: {}
    };
  }

  function api(method, url, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(
      function (response) {
        return response.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (ignored) { data = null; }
          if (!response.ok) throw (data && data.error) || plainError(response.status);
          return data;
        });
      },
      function () { throw plainError(0); }
    );
  }

  function alertBox() { return document.getElementById("rx-alert"); }

  function message(error) {
    var text = zh ? (error.message_zh || error.message) : (error.message_en || error.message);
    var problems = error.details && error.details.problems;
    if (error.code === "validation_error" && problems && problems.length) {
      // which fields: the last parts of each location, e.g. "lines.0.dose"
      text += " (" + problems.map(function (p) { return (p.loc || []).slice(1).join("."); }).join("; ") + ")";
    }
    return text;
  }

  function showError(error) {
    var box = alertBox();
    if (!box) return;
    box.textContent = typeof error === "string" ? error : message(error);
    box.setAttribute("data-code", (error && error.code) || "local");
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function clearError() {
    var box = alertBox();
    if (!box) return;
    box.hidden = true;
    box.textContent = "";
    box.removeAttribute("data-code");
  }

  function busy(button, on) {
    if (!button) return;
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  // Times as Beijing time, like the server-rendered parts of the pages.
  function local(iso) {
    if (!iso) return "";
    var parts = new Intl.DateTimeFormat("zh-CN", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false
    }).formatToParts(new Date(iso));
    var get = function (type) {
      var found = parts.filter(function (p) { return p.type === type; })[0];
      return found ? found.value : "";
    };
    return get("year") + "-" + get("month") + "-" + get("day") + " " + get("hour") + ":" + get("minute");
  }

  window.RegioRx = { api: api, T: T, zh: zh, showError: showError, clearError: clearError, busy: busy, local: local };
})();
