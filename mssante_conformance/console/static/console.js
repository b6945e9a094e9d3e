// Live progress of a run: poll the JSON endpoint, add checks as they finish, reload at the end.
(function () {
  "use strict";
  var root = document.getElementById("run");
  if (!root || root.dataset.active !== "yes") { return; }
  var url = root.dataset.progressUrl;
  var body = document.querySelector("#checks tbody");
  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }
  function add(check) {
    if (body.querySelector('tr[data-check="' + check.id + '"]')) { return; }
    var tr = document.createElement("tr");
    tr.dataset.check = check.id;
    tr.appendChild(cell(check.id, "mono nowrap"));
    tr.appendChild(cell(check.title || ""));
    var outcome = document.createElement("span");
    outcome.className = "outcome outcome-" + check.outcome;
    outcome.textContent = check.label;
    var td = document.createElement("td");
    td.appendChild(outcome);
    tr.appendChild(td);
    tr.appendChild(cell(check.reason || "", "reason"));
    body.appendChild(tr);
    var none = document.getElementById("no-checks");
    if (none) { none.remove(); }
  }
  function poll() {
    fetch(url, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (view) {
        view.checks.forEach(add);
        document.getElementById("done").textContent = view.done;
        document.getElementById("expected").textContent = view.expected;
        document.getElementById("status-label").textContent = view.status_label;
        var bar = document.getElementById("bar");
        bar.max = view.expected; bar.value = view.done;
        if (view.active) { setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
