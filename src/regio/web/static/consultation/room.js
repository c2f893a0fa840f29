// The consultation room: chat over the WebSocket (resumable by sequence), read receipts,
// attachments, and WebRTC voice/video signalled over the same socket. Plain JS, no build step.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root) return;
  var id = root.dataset.consultationId;
  var side = root.dataset.side;
  var csrf = root.dataset.csrf;
  var zh = (root.dataset.lang || "zh").indexOf("zh") === 0;
  var log = document.getElementById("log");
  var linkState = document.getElementById("link");
  var T = function (a, b) { return zh ? a : b; };

  var lastSeq = 0; // the highest sequence shown, in order; resumes the socket after a drop
  var otherRead = parseInt(root.dataset.otherRead || "0", 10);
  var pending = {}; // client id -> body, until the server acknowledges it as stored
  var socket = null;
  var retry = 0;
  var closedForGood = false;

  function clientId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "c-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function time(iso) {
    var d = new Date(iso);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function render(m) {
    if (m.seq <= lastSeq) return; // replayed or heard twice
    lastSeq = m.seq;
    var li = document.createElement("li");
    li.dataset.seq = m.seq;
    li.className = m.sender_side === "system" ? "system" : (m.sender_side === side ? "mine" : "theirs");
    if (m.attachment) {
      if (m.attachment.content_type.indexOf("image/") === 0) {
        var img = document.createElement("img");
        img.src = m.attachment.url;
        img.alt = m.attachment.file_name || "image";
        li.appendChild(img);
      } else {
        var a = document.createElement("a");
        a.href = m.attachment.url;
        a.textContent = "📄 " + (m.attachment.file_name || "PDF");
        li.appendChild(a);
      }
    } else {
      li.appendChild(document.createTextNode(m.body));
    }
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = time(m.created_at);
    li.appendChild(meta);
    if (m.client_msg_id) {
      var mine = log.querySelector('li.pending[data-client-id="' + m.client_msg_id + '"]');
      if (mine) mine.remove();
    }
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    markReceipts();
    if (m.sender_side !== side && m.sender_side !== "system") sendRead();
  }

  function markReceipts() {
    Array.prototype.forEach.call(log.querySelectorAll("li.mine"), function (li) {
      var seq = parseInt(li.dataset.seq, 10);
      var meta = li.querySelector(".meta");
      if (seq <= otherRead && meta && !li.classList.contains("read")) {
        li.classList.add("read");
        meta.textContent += " · " + T("已读", "Read");
      }
    });
  }

  function sendRead() {
    if (document.visibilityState === "hidden") return;
    send({ type: "read", seq: lastSeq });
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function showPending(cid, body) {
    var li = document.createElement("li");
    li.className = "mine pending";
    li.dataset.clientId = cid;
    li.textContent = body;
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/ws/care/consultations/" + id + "?after=" + lastSeq + (zh ? "" : "&lang=en");
    socket = new WebSocket(url, ["regio"]); // signed in by the session cookie (Origin-checked)
    linkState.textContent = T("连接中…", "Connecting…");
    socket.onopen = function () {
      retry = 0;
      linkState.textContent = T("已连接", "Connected");
      // Whatever was not acknowledged is sent again with its client id: stored once.
      Object.keys(pending).forEach(function (cid) { send({ type: "message", body: pending[cid], client_msg_id: cid }); });
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "message") render(frame);
      else if (frame.type === "ack") delete pending[frame.client_msg_id];
      else if (frame.type === "read") { if (frame.side !== side) { otherRead = Math.max(otherRead, frame.seq); markReceipts(); } }
      else if (frame.type === "status") { if (frame.status !== root.dataset.status) location.reload(); }
      else if (frame.type === "call") onCall(frame);
      else if (frame.type === "signal") { if (frame.from !== side) onSignal(frame.data); }
      else if (frame.type === "error") {
        if (frame.client_msg_id) delete pending[frame.client_msg_id];
        linkState.textContent = frame.error.message;
      }
    };
    socket.onclose = function (event) {
      if (event.code === 1008) { closedForGood = true; linkState.textContent = T("无权进入此诊室", "Not allowed in this room"); return; }
      if (closedForGood) return;
      linkState.textContent = T("连接断开，正在重连…", "Disconnected; reconnecting…");
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 250 * Math.pow(2, retry - 1));
    };
  }

  var composer = document.getElementById("composer");
  if (composer) {
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = document.getElementById("body");
      var body = box.value.trim();
      if (!body) return;
      var cid = clientId();
      pending[cid] = body;
      showPending(cid, body);
      send({ type: "message", body: body, client_msg_id: cid });
      box.value = "";
    });
    document.getElementById("file").addEventListener("change", function (event) {
      var file = event.target.files[0];
      if (!file) return;
      fetch("/api/care/consultations/" + id + "/attachments", {
        method: "POST",
        body: file,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "X-File-Name": encodeURIComponent(file.name), "X-Client-Msg-Id": clientId() },
      }).then(function (r) { return r.json().then(function (j) { if (!r.ok) linkState.textContent = j.error.message; }); });
      event.target.value = "";
    });
  }

  // ---- voice and video ---------------------------------------------------------------------------
  var call = { pc: null, mode: null, caller: false, remoteSet: false, candidates: [], local: null };
  window.regioRoom = call; // lets an operator (and the browser test) see the connection's state

  function api(path, body) {
    return fetch("/api/care/consultations/" + id + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    }).then(function (r) { return r.json().then(function (j) { if (!r.ok) throw j; return j; }); });
  }

  function show(idName, visible) { var el = document.getElementById(idName); if (el) el.hidden = !visible; }

  function iceServers() {
    return fetch("/api/care/ice-servers", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) { return j.ice_servers.map(function (s) { return { urls: s.urls, username: s.username || undefined, credential: s.credential || undefined }; }); });
  }

  function prepare(mode) {
    call.mode = mode;
    return Promise.all([
      iceServers(),
      navigator.mediaDevices.getUserMedia({ audio: true, video: mode === "video" }),
    ]).then(function (both) {
      var pc = new RTCPeerConnection({ iceServers: both[0] });
      call.pc = pc;
      call.local = both[1];
      both[1].getTracks().forEach(function (track) { pc.addTrack(track, both[1]); });
      document.getElementById("local-video").srcObject = both[1];
      pc.onicecandidate = function (e) { if (e.candidate) send({ type: "signal", data: { kind: "candidate", candidate: e.candidate.toJSON() } }); };
      pc.ontrack = function (e) { document.getElementById("remote-video").srcObject = e.streams[0]; };
      pc.onconnectionstatechange = function () { linkState.textContent = T("通话：", "Call: ") + pc.connectionState; };
      show("videos", true);
      show("hangup", true);
      return pc;
    });
  }

  function teardown() {
    if (call.pc) call.pc.close();
    if (call.local) call.local.getTracks().forEach(function (t) { t.stop(); });
    call.pc = null; call.local = null; call.remoteSet = false; call.candidates = []; call.caller = false;
    show("videos", false); show("hangup", false); show("answer", false);
  }

  function onCall(frame) {
    var c = frame.call;
    if (c.status === "ringing" && frame.from !== side) { call.mode = c.mode; show("answer", true); }
    else if (c.status === "connected" && call.caller && call.pc) {
      // The other side answered and is listening: make the offer now.
      call.pc.createOffer().then(function (offer) { return call.pc.setLocalDescription(offer); })
        .then(function () { send({ type: "signal", data: { kind: "offer", sdp: call.pc.localDescription.sdp } }); });
    } else if (c.status === "ended") teardown();
  }

  function addCandidates() {
    call.candidates.forEach(function (c) { call.pc.addIceCandidate(c); });
    call.candidates = [];
  }

  function onSignal(data) {
    if (!call.pc) return;
    if (data.kind === "offer") {
      call.pc.setRemoteDescription({ type: "offer", sdp: data.sdp })
        .then(function () { call.remoteSet = true; addCandidates(); return call.pc.createAnswer(); })
        .then(function (answer) { return call.pc.setLocalDescription(answer); })
        .then(function () { send({ type: "signal", data: { kind: "answer", sdp: call.pc.localDescription.sdp } }); });
    } else if (data.kind === "answer") {
      call.pc.setRemoteDescription({ type: "answer", sdp: data.sdp }).then(function () { call.remoteSet = true; addCandidates(); });
    } else if (data.kind === "candidate") {
      if (call.remoteSet) call.pc.addIceCandidate(data.candidate);
      else call.candidates.push(data.candidate);
    }
  }

  ["call-voice", "call-video"].forEach(function (name) {
    var button = document.getElementById(name);
    if (!button) return;
    button.addEventListener("click", function () {
      var mode = button.dataset.mode;
      call.caller = true;
      prepare(mode).then(function () { return api("/calls", { mode: mode }); })
        .catch(function (e) { teardown(); linkState.textContent = (e && e.error) ? e.error.message : String(e); });
    });
  });
  var answer = document.getElementById("answer");
  if (answer) answer.addEventListener("click", function () {
    show("answer", false);
    prepare(call.mode || "video").then(function () { return api("/calls/answer"); })
      .catch(function (e) { teardown(); linkState.textContent = (e && e.error) ? e.error.message : String(e); });
  });
  var hangup = document.getElementById("hangup");
  if (hangup) hangup.addEventListener("click", function () { api("/calls/end").catch(function () {}); teardown(); });

  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible" && lastSeq) sendRead(); });
  connect();
})();
