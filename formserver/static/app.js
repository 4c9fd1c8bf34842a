// The form page's helpers (no inline scripts: the CSP forbids them):
//  - drafts: every change is saved to the server (PUT /drafts/<id>) and to this phone's localStorage, so a
//    locked phone, a lost connection or a server error loses nothing; a newer local copy is restored on load;
//  - photos are uploaded as soon as they are chosen;
//  - register tables get rows added; the submit button is disabled after the first tap;
//  - a refused form scrolls to the first item to fix;
//  - items and sections with show_when appear and disappear as the person answers (handbook/conditions.py
//    is the server's evaluator of the same conditions); a hidden one's inputs are disabled, so the browser
//    neither submits nor validates them. Without this script everything shows and the server drops what the
//    answers hide.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  const KEY = (uid) => "draft:" + uid;

  function fieldPairs(form) {
    const pairs = [];
    for (const [name, value] of new FormData(form)) {
      if (typeof value !== "string" || name === "csrf_token" || name === "submission_id") continue;
      pairs.push([name, value]);
    }
    return pairs;
  }

  function restore(form, pairs) {
    const byName = new Map();
    for (const [name, value] of pairs) {
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name).push(value);
    }
    // Make sure every register has enough rows for the stored cells.
    for (const name of byName.keys()) {
      const m = /^(.*)-(\d+)-[^-]+$/.exec(name);
      if (!m) continue;
      const rows = form.querySelector(`[data-register="${CSS.escape(m[1])}"]`);
      while (rows && rows.querySelectorAll("[data-row]").length <= Number(m[2])) addRow(rows);
    }
    for (const el of form.elements) {
      if (!el.name || el.type === "file" || el.name === "csrf_token" || el.name === "submission_id") continue;
      const values = byName.get(el.name) || [];
      if (el.type === "radio" || el.type === "checkbox") el.checked = values.includes(el.value);
      else if (el.type !== "hidden") el.value = values[0] ?? "";
    }
    form.dispatchEvent(new CustomEvent("answers-restored", { detail: { fields: pairs } }));  // signature.js reads its ids
    // Photo ids are hidden inputs: rebuild them from the stored pairs.
    for (const box of form.querySelectorAll("[data-photos]")) {
      const ids = byName.get(box.dataset.photos) || [];
      const thumbs = box.querySelector(".thumbs");
      thumbs.replaceChildren();
      for (const id of ids) addThumb(box, id);
    }
  }

  function setStatus(form, text, offline) {
    const el = form.querySelector(".draft-status");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("offline", !!offline);
  }

  function initDraft(form) {
    if (form.hasAttribute("data-no-draft")) return;
    const uid = form.dataset.uid;
    const savedAt = form.dataset.savedAt ? Date.parse(form.dataset.savedAt + "Z") : 0;
    // A refused form is re-rendered from exactly what was posted: nothing newer to restore.
    if (!form.hasAttribute("data-refused")) try {
      const local = JSON.parse(localStorage.getItem(KEY(uid)) || "null");
      if (local && local.form === form.dataset.form && local.at > savedAt) {
        restore(form, local.fields);
        setStatus(form, "已恢复本机保存的草稿(" + new Date(local.at).toLocaleTimeString("zh-CN") + ")");
      }
    } catch (e) { /* a broken local copy is ignored */ }

    let timer = null, pending = false;
    const save = async () => {
      timer = null;
      const fields = fieldPairs(form);
      const at = Date.now();
      try { localStorage.setItem(KEY(uid), JSON.stringify({ form: form.dataset.form, fields, at })); } catch (e) { /* full */ }
      try {
        const r = await fetch(form.dataset.draftUrl, { method: "PUT", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
          body: JSON.stringify({ form: form.dataset.form, fields }) });
        if (!r.ok) throw new Error(String(r.status));
        const body = await r.json();
        pending = false;
        setStatus(form, "草稿已保存 " + body.saved);
      } catch (e) {
        pending = true;
        setStatus(form, navigator.onLine ? "暂时无法保存到服务器:内容已保存在本机,稍后自动重试"
          : "网络已断开:内容已保存在本机,恢复连接后自动上传", true);
      }
    };
    const soon = () => { if (timer) clearTimeout(timer); timer = setTimeout(save, 800); };
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    form.addEventListener("photos-changed", soon);
    window.addEventListener("online", () => { if (pending) save(); });
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden" && timer) { clearTimeout(timer); save(); } });
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (timer) clearTimeout(timer);
      try { localStorage.setItem(KEY(uid), JSON.stringify({ form: form.dataset.form, fields: fieldPairs(form), at: Date.now() })); } catch (e) { /* full */ }
      if (button) setTimeout(() => { button.disabled = true; button.textContent = "提交中…"; }, 0);
    });
    // Back to this page from the browser's cache (the Back button): the form can be submitted again.
    window.addEventListener("pageshow", (event) => {
      const button = form.querySelector("button[type=submit]");
      if (event.persisted && button) { button.disabled = false; button.textContent = "提交"; }
    });
  }

  function addThumb(box, id) {
    const span = document.createElement("span");
    span.className = "thumb";
    const img = document.createElement("img");
    if (window.Outbox && id.startsWith(window.Outbox.LOCAL)) window.Outbox.photoUrl(id).then((url) => { img.src = url; });
    else img.src = "/photos/" + encodeURIComponent(id);
    img.alt = "已上传的照片";
    const input = document.createElement("input");
    input.type = "hidden"; input.name = box.dataset.photos; input.value = id;
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "remove-photo"; remove.textContent = "×";
    remove.setAttribute("aria-label", "删除这张照片");
    span.append(img, input, remove);
    box.querySelector(".thumbs").append(span);
  }

  function initPhotos(form) {
    form.addEventListener("click", (event) => {
      const button = event.target.closest(".remove-photo");
      if (!button) return;
      button.closest(".thumb").remove();
      form.dispatchEvent(new Event("photos-changed"));
    });
    form.addEventListener("change", async (event) => {
      const input = event.target;
      if (input.type !== "file") return;
      const box = input.closest("[data-photos]");
      const status = box.querySelector(".photo-status");
      for (const file of input.files) {
        if (!navigator.onLine && window.Outbox) { await keepOnPhone(form, box, file); continue; }
        status.textContent = "正在上传 " + file.name + "…";
        const body = new FormData();
        body.append("file", file);
        body.append("submission_id", form.dataset.uid);
        body.append("item", box.dataset.photos);
        try {
          const r = await fetch("/photos", { method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } });
          const data = await r.json().catch(() => ({}));
          if (!r.ok) { status.textContent = data.error || ("上传失败(" + r.status + ")"); continue; }
          addThumb(box, data.id);
          status.textContent = "照片已上传";
        } catch (e) {
          if (window.Outbox) await keepOnPhone(form, box, file);
          else status.textContent = "网络断开,照片未上传:恢复连接后请重新选择";
        }
      }
      input.value = "";  // uploaded: the form itself does not post the file again
      form.dispatchEvent(new Event("photos-changed"));
    });
  }

  // No connection: the photo stays on this phone (outbox.js) and goes up before the form does (offline.js).
  async function keepOnPhone(form, box, file) {
    const status = box.querySelector(".photo-status");
    try {
      addThumb(box, await window.Outbox.keepPhoto(file, form.dataset.uid, box.dataset.photos));
      status.textContent = "照片已保存在本机,联网后随表提交";
    } catch (e) {
      status.textContent = "照片无法保存在本机(存储空间不足?),请联网后重新选择";
    }
  }

  function addRow(rows) {
    const all = rows.querySelectorAll("[data-row]");
    const last = all[all.length - 1];
    const n = all.length;
    const clone = last.cloneNode(true);
    const prefix = rows.dataset.register;
    const rename = (value) => value.replace(new RegExp("^" + prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "-\\d+-"), prefix + "-" + n + "-");
    for (const el of clone.querySelectorAll("[name], [id], [for]")) {
      for (const attr of ["name", "id", "for"]) if (el.hasAttribute(attr)) el.setAttribute(attr, rename(el.getAttribute(attr)));
      if (el.matches("input[type=radio], input[type=checkbox]")) el.checked = false;
      else if (el.matches("input:not([type=hidden]), textarea, select")) el.value = "";
    }
    for (const el of clone.querySelectorAll(".field-error, .thumb")) el.remove();
    for (const el of clone.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    clone.querySelectorAll(".has-error").forEach((el) => el.classList.remove("has-error"));
    const number = clone.querySelector(".row-no span");
    if (number) number.textContent = String(n + 1);
    rows.append(clone);
    return clone;
  }

  // Forms marked data-once (acknowledging, starting or submitting a quiz): the button is disabled after the
  // first tap, and enabled again when the page comes back from the browser's cache. The server makes a
  // second submission harmless anyway; this only spares the wait.
  function initLogic(form) {
    const blocks = [...form.querySelectorAll("[data-show-when]")];  // document order: a section before its items
    if (!blocks.length) return;
    // An item's answers: its checked radios or boxes, none while it is hidden (its inputs are disabled).
    const answers = (id) => [...form.elements].filter((el) => el.name === id && el.checked && !el.disabled)
      .map((el) => el.value);
    const holds = (c) => {
      if (c.op === "all") return c.parts.every(holds);
      if (c.op === "any") return c.parts.some(holds);
      const matched = answers(c.item).some((v) => c.values.includes(v));
      return c.op === "is_not" ? !matched : matched;
    };
    const apply = () => {
      for (const block of blocks) {
        const show = holds(JSON.parse(block.dataset.showWhen)) && !block.parentElement.closest("[data-show-when][hidden]");
        block.hidden = !show;
        for (const el of block.querySelectorAll("input, textarea, select")) el.disabled = !show;
      }
    };
    form.addEventListener("change", apply);
    form.addEventListener("answers-restored", apply);
    apply();
  }

  function initOnce(form) {
    const button = form.querySelector("button[type=submit]");
    if (!button) return;
    const label = button.textContent;
    form.addEventListener("submit", () => { setTimeout(() => { button.disabled = true; button.textContent = "提交中…"; }, 0); });
    window.addEventListener("pageshow", (event) => { if (event.persisted) { button.disabled = false; button.textContent = label; } });
  }

  window.RecordPage = { restore };  // offline.js reopens a form from the outbox with its answers

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-once]")) initOnce(form);
    // A refused quiz comes back at the top: show the first question left unanswered.
    document.querySelector("form.quiz .has-error")?.scrollIntoView({ block: "center" });
    const done = document.querySelector("[data-clear-draft]");
    if (done) { try { localStorage.removeItem(KEY(done.dataset.clearDraft)); } catch (e) { /* ignore */ } }
    for (const form of document.querySelectorAll("form.record-form")) {
      // A refused form comes back at the top; on a phone the first item to fix is screens away.
      form.querySelector(".has-error")?.scrollIntoView({ block: "center" });
      initPhotos(form);
      form.addEventListener("click", (event) => {
        const add = event.target.closest("[data-add-row]");
        if (!add) return;
        const rows = form.querySelector(`[data-register="${CSS.escape(add.dataset.addRow)}"]`);
        addRow(rows).querySelector("input, select, textarea")?.focus();
      });
      initLogic(form);
      initDraft(form);
    }
  });
})();
