// Caravan console: the little that server-rendered pages cannot do alone.
// It streams a publish upload with its progress, starts a fetch and follows
// it by server-sent events, cancels one, and takes an evidence file dropped
// on its form. It calls the gateway's API (/v1/...) with the session cookie.
"use strict";

function problemText(body, status) {
  try {
    const p = JSON.parse(body);
    if (p.detail) return (p.field ? p.field + ": " : "") + p.detail;
  } catch (e) { /* not a problem document */ }
  return "HTTP " + status;
}

function list(value) {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

// Publish: the records file is the request's body; the answer is NDJSON
// events (progress, rejects, then the result or an error).
function setupPublish(form) {
  const out = form.querySelector("output");
  const bar = form.querySelector("progress");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const file = data.get("file");
    const q = new URLSearchParams();
    for (const k of ["dataset", "schema", "format", "description"]) q.set(k, data.get(k) || "");
    for (const k of ["encoding", "delimiter"]) if (data.get(k)) q.set(k, data.get(k));
    for (const p of list(data.get("purpose") || "")) q.append("purpose", p);
    for (const l of list(data.get("label") || "")) q.append("label", l);
    bar.hidden = false;
    bar.value = 0;
    out.className = "";
    out.textContent = "Uploading " + file.name + "…";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const resp = await fetch(form.getAttribute("data-api") + "?" + q.toString(), {
        method: "POST", body: file, credentials: "same-origin",
        headers: { "Content-Type": "application/octet-stream", "Accept": "application/x-ndjson" },
      });
      if (!resp.ok) throw new Error(problemText(await resp.text(), resp.status));
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim() === "") continue;
          const e = JSON.parse(line);
          if (e.error) throw new Error(e.error);
          if (e.progress) {
            if (file.size > 0 && e.bytes) bar.value = Math.min(1, e.bytes / file.size);
            out.textContent = e.progress + " records read…";
          }
          if (e.result) {
            bar.value = 1;
            const m = e.result.manifest;
            out.className = "ok";
            out.textContent = "Published " + m.publisher + "/" + m.dataset + " version " + m.version +
              ": " + m.records + " records, manifest " + e.result.cid + ". ";
            const a = document.createElement("a");
            a.href = "/console/datasets/" + m.publisher + "/" + m.dataset;
            a.textContent = "See the dataset";
            out.appendChild(a);
          }
        }
      }
    } catch (err) {
      out.className = "error";
      out.textContent = "Not published: " + err.message;
    } finally {
      button.disabled = false;
    }
  });
}

// A fetch's row follows its server-sent events until the "end" one.
function follow(row) {
  const id = row.dataset.fetch;
  const src = new EventSource("/v1/fetches/" + encodeURIComponent(id) + "/events");
  const show = (info) => {
    row.dataset.state = info.state;
    row.querySelector(".state").textContent = info.state + (info.error ? ": " + info.error : "");
    let text = info.received + " received, " + info.permitted + " permitted";
    if (info.result) text += ", " + info.result.withheld + " withheld";
    row.querySelector(".progress").textContent = text;
  };
  src.addEventListener("progress", (ev) => show(JSON.parse(ev.data)));
  src.addEventListener("end", (ev) => {
    const info = JSON.parse(ev.data);
    show(info);
    src.close();
    const actions = row.querySelector(".actions");
    actions.textContent = "";
    if (info.result) {
      const a = document.createElement("a");
      a.href = "/v1/fetched?" + new URLSearchParams({ manifest: info.result.manifest, purpose: info.request.purpose });
      a.download = "";
      a.textContent = "Records";
      actions.appendChild(a);
    }
  });
  src.onerror = () => { if (row.dataset.state !== "running") src.close(); };
  const cancel = row.querySelector("button.cancel");
  if (cancel) {
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      const resp = await fetch("/v1/fetches/" + encodeURIComponent(id), { method: "DELETE", credentials: "same-origin" });
      if (!resp.ok && resp.status !== 404) row.querySelector(".state").textContent = problemText(await resp.text(), resp.status);
    });
  }
}

function fetchRow(info, canCancel) {
  const tr = document.createElement("tr");
  tr.dataset.fetch = info.id;
  tr.dataset.state = info.state;
  const cells = [new Date(info.started_at).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"),
    info.request.manifest, info.request.purpose, info.state, "0 received, 0 permitted", ""];
  const classes = ["", "", "", "state", "progress", "actions"];
  cells.forEach((text, i) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (classes[i]) td.className = classes[i];
    tr.appendChild(td);
  });
  if (canCancel) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "cancel";
    b.textContent = "Cancel";
    tr.querySelector(".actions").appendChild(b);
  }
  return tr;
}

function setupFetch(form) {
  const out = form.querySelector("output");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const req = { manifest: data.get("manifest").trim(), purpose: data.get("purpose").trim() };
    if ((data.get("select") || "").trim() !== "") req.select = data.get("select").trim();
    out.className = "";
    out.textContent = "Asking the partner…";
    try {
      const resp = await fetch(form.getAttribute("data-api"), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(req),
      });
      const body = await resp.text();
      if (resp.status !== 202) throw new Error(problemText(body, resp.status));
      const info = JSON.parse(body);
      const tbody = document.querySelector("#fetches-out tbody");
      const empty = tbody.querySelector("tr.empty");
      if (empty) empty.remove();
      const row = fetchRow(info, true);
      tbody.prepend(row);
      follow(row);
      out.className = "ok";
      out.textContent = "Fetch " + info.id + " started.";
    } catch (err) {
      out.className = "error";
      out.textContent = "Not fetched: " + err.message;
    }
  });
}

// An evidence file dropped on the verify form is chosen and sent.
function setupDrop(form) {
  const input = form.querySelector("input[type=file]");
  form.addEventListener("dragover", (ev) => { ev.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (ev) => {
    ev.preventDefault();
    form.classList.remove("over");
    if (ev.dataTransfer.files.length === 1) {
      input.files = ev.dataTransfer.files;
      form.requestSubmit();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const publish = document.getElementById("publish");
  if (publish) setupPublish(publish);
  const fetchForm = document.getElementById("fetch");
  if (fetchForm) setupFetch(fetchForm);
  document.querySelectorAll("tr[data-state=running]").forEach(follow);
  document.querySelectorAll("form.drop").forEach(setupDrop);
});
