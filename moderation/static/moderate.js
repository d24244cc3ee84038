// The queue page: claim, show, decide, undo - from the keyboard or the mouse.
// Everything a commenter wrote is put on the page with textContent, never as
// HTML: spam carries script by design.
"use strict";

(function () {
  const app = document.getElementById("app");
  if (!app) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const undoSeconds = Number(app.dataset.undoSeconds);
  const leaseSeconds = Number(app.dataset.leaseSeconds);
  const list = document.getElementById("queue");
  const status = document.getElementById("status");
  const undoBar = document.getElementById("undo-bar");
  const undoText = document.getElementById("undo-text");
  const help = document.getElementById("help");
  const filters = {
    site: document.getElementById("site-filter"),
    band: document.getElementById("band-filter"),
    age: document.getElementById("age-filter"),
  };
  let items = [];
  let rows = [];
  let focus = 0;
  const selected = new Set();
  let last = null; // {ids, label}
  let undoTimer = null;

  function post(path, body) {
    return fetch("/moderate/api/" + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (r) {
      if (r.status === 401) { window.location = "/moderate/login"; }
      return r.json();
    });
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Words and domains that drove the score, marked in the (plain) text.
  function highlighted(text, terms) {
    const out = el("p", "content");
    const lower = text.toLowerCase();
    const ranges = [];
    terms.forEach(function (term) {
      const t = term.toLowerCase();
      if (t.length < 2) return;
      let at = lower.indexOf(t);
      while (at !== -1) { ranges.push([at, at + t.length]); at = lower.indexOf(t, at + t.length); }
    });
    ranges.sort(function (a, b) { return a[0] - b[0]; });
    let pos = 0;
    ranges.forEach(function (r) {
      if (r[0] < pos) return;
      out.appendChild(document.createTextNode(text.slice(pos, r[0])));
      out.appendChild(el("mark", null, text.slice(r[0], r[1])));
      pos = r[1];
    });
    out.appendChild(document.createTextNode(text.slice(pos)));
    return out;
  }

  function terms(item) {
    return item.reasons.filter(function (r) {
      return ["token", "link_domain", "link_host"].indexOf(r.code) !== -1 && r.weight > 0;
    }).map(function (r) { return r.detail; });
  }

  function band(score) {
    if (score === null || score === undefined) return "none";
    return score < 0.3 ? "low" : score > 0.7 ? "high" : "mid";
  }

  function visible(item) {
    if (filters.band.value && band(item.score) !== filters.band.value) return false;
    const age = Date.now() / 1000 - item.queued_at;
    if (filters.age.value === "old") return age > 86400;
    if (filters.age.value) return age <= Number(filters.age.value);
    return true;
  }

  function itemBody(item) {
    const f = item.fields;
    const box = el("div", "body");
    const meta = el("p", "meta");
    meta.appendChild(el("span", "site", item.site));
    meta.appendChild(el("span", "author", f.author || "(no name)"));
    if (f.author_email) meta.appendChild(el("span", "email", f.author_email));
    if (f.author_url) meta.appendChild(el("span", "url", f.author_url));
    if (item.ip_hash) {
      const ip = "IP " + item.ip_hash + (item.ip_prefix ? " (" + item.ip_prefix + ")" : "");
      meta.appendChild(el("span", "ip", ip));
    }
    if (f.permalink) meta.appendChild(el("span", "post", f.permalink));
    box.appendChild(meta);
    box.appendChild(highlighted(f.content || "", terms(item)));
    const score = el("div", "score");
    const bar = el("span", "bar band-" + band(item.score));
    bar.style.width = Math.round((item.score || 0) * 100) + "%";
    score.appendChild(bar);
    score.setAttribute("role", "img");
    score.setAttribute("aria-label", "score " + (item.score === null ? "none" : item.score.toFixed(2)));
    box.appendChild(score);
    const facts = el("p", "facts");
    facts.appendChild(el("span", null, "score " + (item.score === null ? "-" : item.score.toFixed(2))));
    facts.appendChild(el("span", null, "band " + band(item.score)));
    if (item.akismet) facts.appendChild(el("span", null, "Akismet: " + item.akismet.answer));
    box.appendChild(facts);
    const reasons = el("ul", "reasons");
    item.reasons.slice(0, 6).forEach(function (r) {
      const cls = r.weight === undefined ? "neutral" : r.weight > 0 ? "toward-spam" : "toward-ham";
      reasons.appendChild(el("li", cls, r.code + ": " + r.detail));
    });
    box.appendChild(reasons);
    return box;
  }

  function button(label, key, action) {
    const b = el("button", null, label);
    b.type = "button";
    b.setAttribute("aria-keyshortcuts", key);
    b.addEventListener("click", action);
    return b;
  }

  function render() {
    list.textContent = "";
    rows = [];
    const groups = {};
    items.filter(visible).forEach(function (item) {
      const c = item.cluster;
      const key = c && c.size > 1 ? "cluster:" + c.id : "item:" + item.review_id;
      if (!groups[key]) { groups[key] = { key: key, cluster: c && c.size > 1 ? c : null, items: [] }; rows.push(groups[key]); }
      groups[key].items.push(item);
    });
    rows.forEach(function (row, index) {
      const li = el("li", "item");
      li.tabIndex = -1;
      li.dataset.ids = row.items.map(function (i) { return i.review_id; }).join(" ");
      if (row.items.some(function (i) { return selected.has(i.review_id); })) li.classList.add("selected");
      const first = row.items[0];
      if (row.cluster && row.items.length > 1) {
        li.classList.add("cluster");
        li.appendChild(el("p", "cluster-head",
          "Campaign: " + row.cluster.size + " similar comments (" + row.items.length + " here)"));
        const more = el("div", "members");
        more.hidden = true;
        row.items.forEach(function (i) { more.appendChild(itemBody(i)); });
        li.appendChild(itemBody(first));
        const toggle = button("Show all " + row.items.length, "", function () {
          more.hidden = !more.hidden;
          toggle.setAttribute("aria-expanded", String(!more.hidden));
        });
        toggle.setAttribute("aria-expanded", "false");
        li.appendChild(toggle);
        li.appendChild(more);
      } else {
        li.appendChild(itemBody(first));
      }
      const actions = el("div", "actions");
      actions.appendChild(button("Approve (a)", "a", function () { decideRow(index, "ham"); }));
      actions.appendChild(button("Spam (s)", "s", function () { decideRow(index, "spam"); }));
      actions.appendChild(button("Select (x)", "x", function () { toggleSelect(index); }));
      li.appendChild(actions);
      li.addEventListener("focus", function () { focus = index; markFocus(); });
      list.appendChild(li);
    });
    status.textContent = rows.length ? rows.length + " to decide" : "Nothing waiting for you.";
    if (focus >= rows.length) focus = Math.max(0, rows.length - 1);
    markFocus(true);
  }

  function markFocus(move) {
    Array.prototype.forEach.call(list.children, function (li, i) {
      li.classList.toggle("current", i === focus);
      li.setAttribute("aria-current", i === focus ? "true" : "false");
    });
    if (move && list.children[focus]) list.children[focus].focus();
  }

  function idsOf(row) { return row.items.map(function (i) { return i.review_id; }); }

  function decideRow(index, label) {
    const row = rows[index];
    if (!row) return;
    if (row.cluster && row.items.length > 1) {
      post("decide-cluster", { cluster: row.cluster.id, label: label }).then(function (r) {
        done(r.results.filter(function (x) { return x.ok; }).map(function (x) { return x.review_id; }), label);
      });
    } else {
      decide(idsOf(row), label);
    }
  }

  function decide(ids, label) {
    if (!ids.length) return;
    post("decide", { ids: ids, label: label }).then(function (r) {
      done(r.results.filter(function (x) { return x.ok; }).map(function (x) { return x.review_id; }), label);
    });
  }

  function done(ids, label) {
    items = items.filter(function (i) { return ids.indexOf(i.review_id) === -1; });
    ids.forEach(function (id) { selected.delete(id); });
    last = { ids: ids, label: label };
    undoText.textContent = ids.length + (ids.length === 1 ? " comment" : " comments") + " marked " + label + ".";
    undoBar.hidden = false;
    clearTimeout(undoTimer);
    undoTimer = setTimeout(function () { undoBar.hidden = true; last = null; }, undoSeconds * 1000);
    render();
    if (!items.length) claim();
  }

  function undo() {
    if (!last) return;
    const ids = last.ids;
    last = null;
    undoBar.hidden = true;
    post("undo", { ids: ids }).then(function () { claim(); });
  }

  function toggleSelect(index) {
    const row = rows[index];
    if (!row) return;
    const ids = idsOf(row);
    const on = !ids.every(function (id) { return selected.has(id); });
    ids.forEach(function (id) { if (on) selected.add(id); else selected.delete(id); });
    render();
  }

  function claim() {
    return post("claim", { site: filters.site.value }).then(function (r) {
      items = r.items;
      render();
    });
  }

  document.addEventListener("keydown", function (e) {
    const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (help.open && e.key !== "?") return;
    const keys = {
      j: function () { focus = Math.min(rows.length - 1, focus + 1); markFocus(true); },
      k: function () { focus = Math.max(0, focus - 1); markFocus(true); },
      a: function () { decideRow(focus, "ham"); },
      s: function () { decideRow(focus, "spam"); },
      x: function () { toggleSelect(focus); },
      A: function () { decide(Array.from(selected), "ham"); },
      S: function () { decide(Array.from(selected), "spam"); },
      u: undo,
      "?": function () { if (help.open) help.close(); else help.showModal(); },
    };
    const action = keys[e.key];
    if (action) { e.preventDefault(); action(); }
  });

  document.getElementById("undo-button").addEventListener("click", undo);
  document.getElementById("help-button").addEventListener("click", function () { help.showModal(); });
  filters.site.addEventListener("change", claim);
  filters.band.addEventListener("change", render);
  filters.age.addEventListener("change", render);

  // Keep the leases while the page is open; give the items back when it closes.
  setInterval(function () {
    if (items.length) post("renew", { ids: items.map(function (i) { return i.review_id; }) });
  }, Math.max(10, leaseSeconds / 3) * 1000);
  window.addEventListener("pagehide", function () {
    if (!items.length) return;
    const form = new FormData();
    form.append("csrf_token", csrf);
    items.forEach(function (i) { form.append("ids", i.review_id); });
    navigator.sendBeacon("/moderate/api/release", form);
  });

  claim();
})();
