// Live job progress from GET /events/jobs (server-sent events). Builds rows with textContent
// only (never innerHTML), so nothing from a job can become markup.
(function () {
  "use strict";
  var active = document.getElementById("jobs-active");
  var recent = document.getElementById("jobs-recent");
  var live = document.getElementById("live-state");
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!active || !recent || !window.EventSource) return;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function idCells(tr, job) {
    var td = el("td"); td.appendChild(el("code", job.id)); tr.appendChild(td);
    tr.appendChild(el("td", job.job_type));
  }
  function cancelForm(job) {
    var form = el("form", null, "inline");
    form.method = "post";
    form.action = "/jobs/" + encodeURIComponent(job.id) + "/cancel";
    var token = el("input"); token.type = "hidden"; token.name = "csrf"; token.value = meta ? meta.content : "";
    form.appendChild(token);
    var button = el("button", "Cancel", "danger"); button.type = "submit";
    form.appendChild(button);
    return form;
  }
  function empty(tbody, text) {
    var tr = el("tr", null, "empty"); var td = el("td", text, "muted"); td.colSpan = 5;
    tr.appendChild(td); tbody.replaceChildren(tr);
  }
  function renderActive(jobs) {
    if (!jobs.length) return empty(active, "No job is running or queued.");
    active.replaceChildren.apply(active, jobs.map(function (job) {
      var tr = el("tr"); tr.dataset.jobId = job.id; idCells(tr, job);
      var status = job.status + (job.waiting ? " (waiting for callbacks)" : "") +
        (job.cancel_requested ? " (cancelling)" : "");
      tr.appendChild(el("td", status, "status"));
      var td = el("td", null, "progress"); var bar = el("progress");
      bar.max = job.total || 1; bar.value = job.processed; td.appendChild(bar);
      td.appendChild(document.createTextNode(" "));
      td.appendChild(el("span", job.processed + " / " + job.total + " (" + job.percent + "%)", "progress-text"));
      tr.appendChild(td);
      var last = el("td"); if (job.cancellable) last.appendChild(cancelForm(job)); tr.appendChild(last);
      return tr;
    }));
  }
  function when(text) { return text ? text.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : ""; }
  function renderRecent(jobs) {
    if (!jobs.length) return empty(recent, "No job has finished yet.");
    recent.replaceChildren.apply(recent, jobs.map(function (job) {
      var tr = el("tr", null, job.status); tr.dataset.jobId = job.id; idCells(tr, job);
      tr.appendChild(el("td", job.status, "status"));
      tr.appendChild(el("td", when(job.finished_at), "when"));
      tr.appendChild(el("td", job.error || job.summary, "outcome"));
      return tr;
    }));
  }
  var source = new EventSource("/events/jobs");
  source.addEventListener("jobs", function (event) {
    var data = JSON.parse(event.data);
    renderActive(data.active); renderRecent(data.recent);
    if (live) live.textContent = "· live";
  });
  source.onerror = function () { if (live) live.textContent = "· reconnecting…"; };
})();
