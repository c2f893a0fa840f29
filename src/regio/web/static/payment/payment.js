// The payment screens: creating an order and paying it, the demo checkout, cancelling a paid booking,
// saving insurance details. JSON calls with the session cookie and the CSRF header; one aria-live alert
// shows a refusal in the page's language. Plain JS, no build step. Money stays in integer fen.
(function () {
  "use strict";
  var root = document.querySelector("[data-csrf]");
  if (!root) return;
  var csrf = root.getAttribute("data-csrf") || "";
  var zh = (root.getAttribute("data-lang") || document.documentElement.lang || "zh").indexOf("zh") === 0;

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
          if (!response.ok) {
            var error = (data && data.error) || plainError(response.status);
            error.status = response.status;
            throw error;
          }
          return data;
        });
      },
      function () { throw plainError(0); }
    );
  }

  function showError(error) {
    var box = document.getElementById("pay-alert");
    if (!box) return;
    var text = typeof error === "string" ? error : (zh ? (error.message_zh || error.message) : (error.message_en || error.message));
    var problems = error && error.details && error.details.problems;
    if (error && error.code === "validation_error" && problems && problems.length) {
      text += " (" + problems.map(function (p) { return (p.loc || []).slice(1).join("."); }).join("; ") + ")";
    }
    box.textContent = text;
    box.setAttribute("data-code", (error && error.code) || "local");
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function clearError() {
    var box = document.getElementById("pay-alert");
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

  // "12.3" → 1230 without floating point; null when it is not an amount in yuan.
  function fenOf(text) {
    var match = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
    if (!match) return null;
    return parseInt(match[1], 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
  }

  // 1. the preview: create the order (or find the open one) and show it
  var creator = document.getElementById("order-creator");
  if (creator) {
    var body = {};
    var appointment = creator.getAttribute("data-appointment-id");
    var prescription = creator.getAttribute("data-prescription-id");
    if (appointment) body.appointment_id = parseInt(appointment, 10);
    if (prescription) body.prescription_id = parseInt(prescription, 10);
    var visitType = creator.getAttribute("data-visit-type");
    if (visitType) body.visit_type = visitType;
    var condition = creator.getAttribute("data-condition");
    if (condition) body.condition = condition;
    var show = function (orderId) {
      window.location.replace("/care/payments/" + orderId + (visitType ? "?visit_type=" + encodeURIComponent(visitType) : ""));
    };
    api("POST", "/api/care/payments/orders", body).then(function (order) {
      show(order.id);
    }).catch(function (error) {
      var existing = error && error.code === "already_ordered" && error.details && error.details.order_id;
      if (existing) { show(existing); return; }
      document.getElementById("creating").hidden = true;
      showError(error);
    });
  }

  // 1b. the order: settle with the insurer and pay the patient's share
  var payButton = document.getElementById("pay");
  if (payButton) {
    payButton.addEventListener("click", function () {
      clearError();
      busy(payButton, true);
      api("POST", "/api/care/payments/orders/" + payButton.getAttribute("data-order-id") + "/pay").then(function (order) {
        if (order.status === "paid") {
          window.location.assign("/care/payments/" + order.id + "?notice=paid");
        } else if (order.pay_url) {
          window.location.assign(order.pay_url);
        } else {
          window.location.reload();
        }
      }).catch(function (error) {
        busy(payButton, false);
        showError(error);
      });
    });
  }

  // 2. the demo checkout
  var simulate = document.getElementById("simulate");
  if (simulate) {
    simulate.addEventListener("click", function () {
      clearError();
      busy(simulate, true);
      api("POST", "/api/care/payments/orders/" + simulate.getAttribute("data-order-id") + "/simulate-payment").then(function (order) {
        var result = document.getElementById("pay-result");
        result.setAttribute("data-status", order.status);
        result.textContent = order.status === "paid" ? T("支付成功。", "Paid.") : T(order.status_zh, order.status_en);
        if (order.status !== "paid") result.className = "alert";
        simulate.hidden = true;
        document.getElementById("pay-done").hidden = false;
      }).catch(function (error) {
        busy(simulate, false);
        showError(error);
      });
    });
  }

  // 3. my orders: cancel a paid booking, which refunds it
  Array.prototype.forEach.call(document.querySelectorAll("button.cancel-booking"), function (button) {
    button.addEventListener("click", function () {
      if (!window.confirm(T("确定取消该预约并退款？", "Cancel this booking and get the money back?"))) return;
      clearError();
      busy(button, true);
      api("POST", "/api/care/payments/orders/" + button.getAttribute("data-order-id") + "/cancel-booking").then(function () {
        window.location.assign("/care/payments?notice=cancelled");
      }).catch(function (error) {
        busy(button, false);
        showError(error);
      });
    });
  });

  // 4. insurance details
  Array.prototype.forEach.call(document.querySelectorAll("form.enrolment-form"), function (form) {
    var region = form.querySelector("select[name=region]");
    var adcode = form.querySelector("input[name=adcode]");
    var toggle = function () { adcode.parentNode.hidden = region.value !== "other"; };
    region.addEventListener("change", toggle);
    toggle();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearError();
      var code = region.value === "other" ? adcode.value.trim() : region.value;
      if (!/^\d{6}$/.test(code)) {
        showError(T("行政区划代码为 6 位数字。", "An adcode has 6 digits."));
        return;
      }
      var chronic = form.querySelector("input[name=chronic]").value.split(/[,，、\s]+/).map(function (c) {
        return c.trim().toUpperCase();
      }).filter(function (c) { return c; });
      var button = form.querySelector("button[type=submit]");
      busy(button, true);
      api("PUT", "/api/care/insurance/enrolments/" + form.getAttribute("data-patient-id"), {
        region_adcode: code,
        scheme: form.querySelector("select[name=scheme]").value,
        chronic_diseases: chronic
      }).then(function () {
        window.location.assign("/care/insurance?notice=saved");
      }).catch(function (error) {
        busy(button, false);
        showError(error);
      });
    });
  });

  // 5. reconciliation: the link follows the form
  var reconciliation = document.getElementById("reconciliation-form");
  if (reconciliation) {
    var link = document.getElementById("csv-link");
    var update = function () {
      link.href = reconciliation.action + "?hospital_id=" + encodeURIComponent(document.getElementById("hospital-id").value.trim()) +
        "&day=" + encodeURIComponent(document.getElementById("day").value);
    };
    reconciliation.addEventListener("input", update);
    update();
  }
})();
