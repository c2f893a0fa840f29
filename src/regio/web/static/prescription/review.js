// The pharmacist's review screen: claim, approve, reject or return (with a reason), release; each button
// calls the API, and on success the page reloads to show the prescription's new state.
(function () {
  "use strict";
  var root = document.getElementById("review");
  if (!root || !window.RegioRx) return;
  var Rx = window.RegioRx;
  var id = root.getAttribute("data-prescription-id");
  var WITH_REASON = { reject: true, "return": true };

  Array.prototype.forEach.call(root.querySelectorAll("button[data-action]"), function (button) {
    button.addEventListener("click", function () {
      var action = button.getAttribute("data-action");
      var body = {};
      if (WITH_REASON[action]) {
        var reason = document.getElementById("review-reason");
        body.reason = reason ? reason.value.trim() : "";
      }
      Rx.clearError();
      Rx.busy(button, true);
      Rx.api("POST", "/api/care/prescriptions/" + id + "/" + action, body).then(function () {
        window.location.assign(window.location.pathname + "?notice=" + action);
      }).catch(function (error) {
        Rx.busy(button, false);
        Rx.showError(error);
      });
    });
  });
})();
