// Filling forms without a connection, on the pages (the service worker's side is templates/sw.js, the
// outbox both use is outbox.js):
//  - registers the service worker and tells it which forms this person uses, so they open offline;
//  - a form submitted offline goes to the outbox ("已保存在本机,联网后自动提交") with its photos; one
//    submitted online with photos taken offline has them uploaded first;
//  - the outbox is sent on every page load and when the connection returns; the home page lists what is
//    waiting and what the server refused, each opening the form with its answers to fix;
//  - a cached form page never reuses a submission id already queued or sent;
//  - logging out with unsent forms asks first.
(function () {
  "use strict";
  const Outbox = window.Outbox;
  if (!Outbox || !("indexedDB" in window)) return;
  const me = () => document.querySelector('meta[name="user-id"]')?.content || "";
  const clock = (ms) => new Date(ms).toLocaleString("zh-CN", { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });

  function register() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/sw.js").catch(() => { /* no worker: pages still work online */ });
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data?.type !== "outbox-sent") return;  // the worker sent the outbox (background sync)
      announce(event.data.report.sent, event.data.report.refused);
      showOutbox();
    });
  }

  function tellWorker(message) {
    navigator.serviceWorker?.ready.then((reg) => reg.active?.postMessage(message)).catch(() => {});
  }

  function banner() {
    const el = document.getElementById("offline-banner");
    if (el) el.hidden = navigator.onLine;
  }

  // --- the form page -------------------------------------------------------------------------------------

  function setUid(form, uid) {
    form.dataset.uid = uid;
    form.dataset.draftUrl = "/drafts/" + uid;
    const input = form.querySelector('input[name="submission_id"]');
    if (input) input.value = uid;
  }

  function pairs(form) {
    const out = [];
    for (const [name, value] of new FormData(form)) {
      if (typeof value !== "string" || ["csrf_token", "submission_id", "outbox_user", "outbox_title"].includes(name)) continue;
      out.push([name, value]);
    }
    return out;
  }

  async function queue(form) {
    const uid = form.dataset.uid;
    await Outbox.put({ uid, form: form.dataset.form, title: form.dataset.title || document.title, user: me(),
      fields: pairs(form), filledAt: Date.now(), status: "queued", error: "", link: "", problems: [] });
    try { localStorage.removeItem("draft:" + uid); } catch (e) { /* ignore */ }
    navigator.serviceWorker?.ready.then((reg) => reg.sync?.register("outbox")).catch(() => {});
    location.assign("/?queued=" + encodeURIComponent(uid));
  }

  // Photos taken offline are on this phone only: upload them (with the ids the phone gave them) before the
  // form itself is posted, so the server sees only photos it has.
  async function uploadLocalPhotos(form) {
    const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
    for (const input of form.querySelectorAll('input[type="hidden"]')) {
      if (!input.value.startsWith(Outbox.LOCAL)) continue;
      const photo = await Outbox.photo(input.value.slice(Outbox.LOCAL.length));
      if (!photo) { input.closest(".thumb")?.remove(); continue; }
      const id = await Outbox.uploadPhoto({ ...photo, uid: form.dataset.uid }, csrf);  // throws when offline
      if (typeof id !== "string") throw new Error(id.error);
      input.value = id;
    }
  }

  function hiddenInput(form, name, value) {
    let input = form.querySelector(`input[name="${name}"]`);
    if (!input) { input = document.createElement("input"); input.type = "hidden"; input.name = name; form.append(input); }
    input.value = value;
  }

  // A signature drawn offline (signature.js asks first): kept on the phone like a photo, sent before the form.
  async function keepSignature(form, pad, blob) {
    const input = pad.querySelector("input[data-signature-image]");
    const status = pad.querySelector(".signature-status");
    try {
      const id = await Outbox.keepPhoto(blob, form.dataset.uid, input.name);
      if (pad.signatureBlob !== blob) return;  // drawn again or cleared meanwhile
      input.value = id;
      if (status) status.textContent = "签名已保存在本机,联网后随表提交";
      form.dispatchEvent(new Event("photos-changed"));
    } catch (e) {
      if (status) status.textContent = "签名无法保存在本机(存储空间不足?),请联网后重签";
    }
  }
  window.OfflineForms = { keepSignature };

  function initForm(form) {
    form.addEventListener("signature-drawn", (event) => {
      if (navigator.onLine) return;  // signature.js uploads it
      event.preventDefault();
      keepSignature(form, event.detail.pad, event.detail.blob);
    });
    form.dataset.title = document.querySelector("h1")?.textContent.trim() || form.dataset.form;
    form.addEventListener("submit", async (event) => {
      // For the service worker, should the connection drop during the post: whose it is, what it is.
      hiddenInput(form, "outbox_user", me());
      hiddenInput(form, "outbox_title", form.dataset.title);
      const local = [...form.querySelectorAll('input[type="hidden"]')].some((i) => i.value.startsWith(Outbox.LOCAL));
      if (navigator.onLine && !local) return;  // an ordinary post: the server answers
      event.preventDefault();
      if (navigator.onLine) {
        try { await uploadLocalPhotos(form); form.submit(); return; } catch (e) { /* the connection is gone: queue */ }
      }
      await queue(form);
    });
    return reopen(form);
  }

  // A form page opened from the outbox (?queued=<id>) shows that entry's answers and the server's verdict;
  // any other form page whose id is queued or sent already (a cached copy) gets a fresh id.
  async function reopen(form) {
    const wanted = new URLSearchParams(location.search).get("queued");
    const entry = wanted ? await Outbox.get(wanted) : null;
    if (entry && String(entry.user) === me() && entry.form === form.dataset.form && !form.hasAttribute("data-refused")) {
      setUid(form, entry.uid);
      window.RecordPage?.restore(form, entry.fields);
      const box = document.createElement("div");
      box.className = "error-box";
      box.setAttribute("role", "alert");
      box.textContent = entry.status === "queued" ? "这份表保存在本机,尚未提交:联网后自动提交,也可以修改后点“提交”。"
        : (entry.error || "服务器未接受这份表") + (entry.problems?.length ? ":" + entry.problems.join(";") : "");
      if (entry.link) {
        const a = document.createElement("a");
        a.href = entry.link; a.textContent = " 查看已提交的记录";
        box.append(a);
      }
      form.before(box);
      return;
    }
    if (!form.hasAttribute("data-refused") && !form.dataset.savedAt && await Outbox.isUsed(form.dataset.uid)) {
      setUid(form, Outbox.newId());
    }
  }

  // --- the home page -------------------------------------------------------------------------------------

  async function showOutbox() {
    const section = document.getElementById("outbox");
    if (!section) return;
    const entries = await Outbox.entriesOf(me());
    const list = section.querySelector("ul");
    list.replaceChildren();
    for (const entry of entries) {
      const li = document.createElement("li");
      li.dataset.uid = entry.uid;
      const a = document.createElement("a");
      a.href = "/forms/" + encodeURIComponent(entry.form) + "?queued=" + encodeURIComponent(entry.uid);
      a.textContent = entry.title;
      const state = document.createElement("span");
      if (entry.status === "queued") {
        state.className = "badge warn";
        state.textContent = "待发送";
      } else {
        state.className = "badge fault";
        state.textContent = entry.status === "conflict" ? "与已提交的记录冲突" : "未被接受,请修改";
      }
      const note = document.createElement("span");
      note.className = "muted";
      const why = entry.problems?.length ? entry.problems.join(";") : entry.error;
      note.textContent = " 填写于 " + clock(entry.filledAt) + (why ? " · " + why : "");
      li.append(a, " ", state, note);
      list.append(li);
    }
    section.hidden = !entries.length;
    const queued = new URLSearchParams(location.search).get("queued");
    const notice = document.getElementById("outbox-notice");
    if (notice) notice.hidden = !(queued && entries.some((e) => e.uid === queued && e.status === "queued"));
  }

  function keepUsedForms() {
    const used = document.querySelector("[data-used-forms]");
    if (used) tellWorker({ type: "keep-forms", paths: JSON.parse(used.dataset.usedForms) });
  }

  let sending = null;
  function send() {
    if (!navigator.onLine || sending) return sending;
    sending = Outbox.replay().then((report) => {
      announce(report.sent.length, report.refused.length);
      return report;
    }).catch(() => null).finally(() => { sending = null; showOutbox(); });
    return sending;
  }

  function announce(sent, refused) {
    if (sent) flash("已自动提交本机保存的 " + sent + " 份表");
    if (refused) flash(refused + " 份本机保存的表未被服务器接受,请在首页打开修改", true);
  }

  function flash(text, warning) {
    const main = document.querySelector("main");
    if (!main) return;
    const p = document.createElement("p");
    p.className = warning ? "error-box" : "flash";
    p.setAttribute("role", warning ? "alert" : "status");
    p.textContent = text;
    main.prepend(p);
  }

  // --- logging out ---------------------------------------------------------------------------------------

  function initLogout() {
    for (const form of document.querySelectorAll("form[data-logout]")) {
      form.addEventListener("submit", async (event) => {
        if (form.dataset.confirmed) return;
        event.preventDefault();
        const waiting = (await Outbox.entriesOf(me())).length;
        if (waiting && !window.confirm("还有 " + waiting + " 份表保存在本机,尚未提交到服务器。\n退出后它们仍留在本机," +
            "您下次登录并联网时自动提交。\n确定退出登录吗?")) return;
        tellWorker({ type: "logout" });
        form.dataset.confirmed = "1";
        form.submit();
      });
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    register();
    banner();
    window.addEventListener("online", () => { banner(); send(); });
    window.addEventListener("offline", banner);
    if (!navigator.onLine) for (const old of document.querySelectorAll(".flash:not(#outbox-notice)")) old.remove();  // a kept page's
    initLogout();
    const done = document.querySelector("[data-clear-draft]");
    if (done) await Outbox.markSent(done.dataset.clearDraft).catch(() => {});
    for (const form of document.querySelectorAll("form.record-form")) {
      await initForm(form).catch(() => {});
      form.dataset.ready = "1";  // its submission id settled: it may be filled and submitted
    }
    keepUsedForms();
    await showOutbox().catch(() => {});
    if (me()) send();
  });
})();
