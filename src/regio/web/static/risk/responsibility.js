// An event's responsibility list (parties, tasks), its warnings and timeline, read from the API.
(function () {
  "use strict";
  const root = document.getElementById("responsibility");
  const config = JSON.parse(document.getElementById("responsibility-config").textContent);
  const T = config.text;
  const roles = (config.labels && config.labels.roles) || {};
  const fmt = (iso) => new Date(iso).toLocaleString(config.zh ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  const li = (text, cls) => { const item = document.createElement("li"); item.textContent = text; if (cls) item.className = cls; return item; };

  async function load() {
    const response = await fetch(`/api/risk/events/${root.dataset.eventId}/responsibility`, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    const body = root.querySelector("#parties tbody");
    body.replaceChildren(...data.parties.map((p) => {
      const row = document.createElement("tr");
      row.dataset.party = p.party_key;
      for (const text of [p.name, roles[p.role] || p.role]) { const cell = document.createElement("td"); cell.textContent = text; row.append(cell); }
      return row;
    }));
    root.querySelector("#tasks").replaceChildren(...data.tasks.map((task) => {
      const state = task.status === "done" ? T.done : task.overdue ? T.overdue : T.open;
      const item = li(`${task.owner_name} · ${config.zh ? task.title : (task.title_en || task.title)} · ${T.deadline} ${fmt(task.deadline)} · ${state}`, `task ${task.status}${task.overdue ? " overdue" : ""}`);
      if (task.status === "open") {
        const button = document.createElement("button");
        button.type = "button"; button.className = "button"; button.textContent = T.complete;
        button.addEventListener("click", async () => {
          const answer = await fetch(`/api/risk/tasks/${task.id}/complete`, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": config.csrf } });
          if (answer.ok) load(); else button.title = ((await answer.json()).error || {}).message || "";
        });
        item.append(" ", button);
      }
      return item;
    }));
    root.querySelector("#event-warnings").replaceChildren(...data.warnings.map((w) =>
      li(`${w.recipient_name} · ${w.acknowledged_at ? `${T.acked} ${fmt(w.acknowledged_at)}` : T.pending}`, w.acknowledged_at ? "acknowledged" : "pending")));
    root.querySelector("#timeline").replaceChildren(...data.timeline.map((e) => li(`${fmt(e.at)} ${config.zh ? e.text : e.text_en}`, e.kind)));
  }
  load();
})();
