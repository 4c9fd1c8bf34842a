// Signature pads (no inline scripts: the CSP forbids them). Each `.signature-pad[data-signature-for]` is a canvas
// drawn on with Pointer Events (finger, pen or mouse), a 清除 button and a hidden input named `<item>_image`
// holding the id of the uploaded drawing. When a stroke ends the canvas is exported as PNG and handed to
// `uploadSignature`, the one way a drawing leaves the page:
//  - it first dispatches a cancelable `signature-drawn` event on the form ({detail: {pad, item, blob, uid}}):
//    offline code that queues uploads calls preventDefault(), keeps the blob (also on `pad.signatureBlob`) and
//    later sets the hidden input itself;
//  - otherwise it POSTs the PNG to /photos (item `<item>_image`), as app.js does with photos, and sets the input.
// Either way the form gets `photos-changed`, so app.js saves the draft. The server checks the PNG (it must decode,
// at most 200 KB and 2000×1000 pixels). Without JavaScript the pad stays hidden and the page says why.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  const MAX_W = 2000, MAX_H = 1000;  // the server's limits, in device pixels

  function status(pad, text) {
    const el = pad.querySelector(".signature-status");
    if (el) el.textContent = text;
  }

  async function uploadSignature(form, pad, blob) {
    const input = pad.querySelector("input[data-signature-image]");
    const item = input.name;
    const uid = form.dataset.uid;
    pad.signatureBlob = blob;
    const queued = !form.dispatchEvent(new CustomEvent("signature-drawn", {
      cancelable: true, detail: { pad, item, blob, uid } }));
    if (queued) { status(pad, "签名已保存在本机,联网后自动上传"); return; }
    status(pad, "正在保存签名…");
    const body = new FormData();
    body.append("file", blob, "signature.png");
    body.append("submission_id", uid);
    body.append("item", item);
    try {
      const r = await fetch(pad.dataset.uploadUrl || "/photos", { method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf() } });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) { status(pad, data.error || ("签名保存失败(" + r.status + "),请清除后重签")); return; }
      if (pad.signatureBlob !== blob) return;  // drawn again or cleared meanwhile: a newer upload follows
      input.value = data.id;
      status(pad, "已手写签名");
      form.dispatchEvent(new Event("photos-changed"));
    } catch (e) {
      if (window.OfflineForms) await window.OfflineForms.keepSignature(form, pad, blob);  // the connection dropped
      else status(pad, "网络断开,签名未保存:恢复连接后请再签一笔或清除重签");
    }
  }

  function initPad(pad) {
    const form = pad.closest("form");
    const canvas = pad.querySelector("canvas");
    const input = pad.querySelector("input[data-signature-image]");
    if (!form || !canvas || !input) return;
    pad.hidden = false;
    const ctx = canvas.getContext("2d");
    let drawing = null, dirty = false, timer = null;

    const size = () => {
      const ratio = Math.min(window.devicePixelRatio || 1, MAX_W / Math.max(canvas.clientWidth, 1),
        MAX_H / Math.max(canvas.clientHeight, 1));
      canvas.width = Math.round(canvas.clientWidth * ratio);
      canvas.height = Math.round(canvas.clientHeight * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
    };
    size();
    if (input.value) {  // a drawing already uploaded (a draft, a refused form, a correction): shown, kept
      const img = new Image();
      img.onload = () => ctx.drawImage(img, 0, 0, canvas.clientWidth, canvas.clientHeight);
      img.src = "/photos/" + encodeURIComponent(input.value);
    }
    const point = (event) => {
      const box = canvas.getBoundingClientRect();
      return [event.clientX - box.left, event.clientY - box.top];
    };
    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = point(event);
      ctx.beginPath(); ctx.arc(drawing[0], drawing[1], ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill();
      dirty = true;
      if (timer) clearTimeout(timer);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      const next = point(event);
      ctx.beginPath(); ctx.moveTo(drawing[0], drawing[1]); ctx.lineTo(next[0], next[1]); ctx.stroke();
      drawing = next;
    });
    const end = () => {
      if (!drawing) return;
      drawing = null;
      // A pause after the stroke, so a signature of several strokes is uploaded once it is finished
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => { timer = null; if (dirty) { dirty = false; canvas.toBlob((blob) => blob && uploadSignature(form, pad, blob), "image/png"); } }, 600);
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    pad.querySelector(".signature-clear")?.addEventListener("click", () => {
      if (timer) clearTimeout(timer);
      dirty = false; pad.signatureBlob = null;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      input.value = "";
      status(pad, "请在框内手写签名");
      form.dispatchEvent(new Event("photos-changed"));
    });
    // A local draft restored by app.js: its drawing id comes back with the other answers.
    form.addEventListener("answers-restored", (event) => {
      const pairs = event.detail?.fields;
      if (!pairs) return;
      const found = pairs.find(([name]) => name === input.name);
      if (!found || !found[1] || found[1] === input.value) return;
      input.value = found[1];
      const img = new Image();
      img.onload = () => { ctx.clearRect(0, 0, canvas.width, canvas.height); ctx.drawImage(img, 0, 0, canvas.clientWidth, canvas.clientHeight); };
      if (window.Outbox && found[1].startsWith(window.Outbox.LOCAL)) window.Outbox.photoUrl(found[1]).then((url) => { img.src = url; });
      else img.src = "/photos/" + encodeURIComponent(found[1]);
      status(pad, "已手写签名");
    });
  }

  window.handbookSignature = { upload: uploadSignature };
  // At once (a deferred script runs once the page is parsed): before app.js's DOMContentLoaded restores a draft.
  const init = () => { for (const pad of document.querySelectorAll(".signature-pad[data-signature-for]")) initPad(pad); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
