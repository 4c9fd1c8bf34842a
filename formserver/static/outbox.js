// The offline outbox, shared by the pages (offline.js) and the service worker (sw.js): submissions made
// without a connection, and the photos taken for them, kept in this phone's IndexedDB until the server has
// them. Each entry keeps its submission id, so a replay (after a lost answer, or from two tabs at once) is
// idempotent on the server; photos keep a client-chosen id for the same reason. Nothing is removed before
// the server said it has it: a refused entry stays, with the server's message, until the person fixes it.
(function (scope) {
  "use strict";
  const DB = "service-handbook", VERSION = 1;
  const LOCAL = "local:";  // prefix of a photo id in a form's fields while the photo is only on this phone

  // One connection per page (or worker), opened on first use: opening costs more than most reads.
  let connection = null;
  function open() {
    connection = connection || connect().catch((error) => { connection = null; throw error; });
    return connection;
  }

  function connect() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("entries", { keyPath: "uid" });  // queued submissions
        db.createObjectStore("photos", { keyPath: "id" });  // blobs of photos not uploaded yet
        db.createObjectStore("sent", { keyPath: "uid" });  // ids the server has: never reused by a cached page
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => { db.close(); connection = null; };  // a newer page wants to upgrade
        resolve(db);
      };
      request.onerror = () => reject(request.error);
    });
  }

  async function run(store, mode, action) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const request = action(tx.objectStore(store));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  const get = (store, key) => run(store, "readonly", (s) => s.get(key));
  const all = (store) => run(store, "readonly", (s) => s.getAll());
  const put = (store, value) => run(store, "readwrite", (s) => s.put(value));
  const remove = (store, key) => run(store, "readwrite", (s) => s.delete(key));

  const newId = () => (crypto.randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

  async function keepPhoto(file, submissionUid, item) {
    const id = newId();
    await put("photos", { id, uid: submissionUid, item, blob: file, name: file.name || "photo", at: Date.now() });
    return LOCAL + id;
  }

  async function photoUrl(localId) {
    const photo = await get("photos", localId.slice(LOCAL.length));
    return photo ? URL.createObjectURL(photo.blob) : "";
  }

  async function entriesOf(user) {
    const entries = await all("entries");
    return entries.filter((e) => String(e.user) === String(user)).sort((a, b) => a.filledAt - b.filledAt);
  }

  async function isUsed(uid) {
    return !!((await get("entries", uid)) || (await get("sent", uid)));
  }

  async function markSent(uid) {
    await put("sent", { uid, at: Date.now() });
    const entry = await get("entries", uid);
    if (entry) await forget(entry);
    // Ids sent more than 60 days ago: no cached page is that old.
    for (const old of await all("sent")) if (old.at < Date.now() - 60 * 864e5) await remove("sent", old.uid);
  }

  async function forget(entry) {
    for (const [, value] of entry.fields) if (value.startsWith(LOCAL)) await remove("photos", value.slice(LOCAL.length));
    await remove("entries", entry.uid);
  }

  // The session's CSRF token and user, asked for at send time: a token in a page cached hours ago may be stale.
  async function session() {
    const r = await fetch("/offline/session", { credentials: "same-origin", redirect: "manual",
      headers: { Accept: "application/json" } });
    if (!r.ok || !(r.headers.get("Content-Type") || "").includes("json")) return null;  // logged out
    return r.json();
  }

  class Later extends Error {}  // no connection, or the server could not answer: try again later

  async function uploadPhoto(photo, csrf) {
    const body = new FormData();
    body.append("file", photo.blob, photo.name);
    body.append("submission_id", photo.uid);
    body.append("item", photo.item);
    body.append("id", photo.id);
    let r;
    try {
      r = await fetch("/photos", { method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrf } });
    } catch (e) { throw new Later(); }
    const data = await r.json().catch(() => ({}));
    if (r.ok) return data.id;
    if (r.status >= 500 || !data.error) throw new Later();
    return { error: "照片 " + photo.name + " 未被接受:" + data.error };
  }

  async function send(entry, me) {
    const fields = [];
    for (const [name, value] of entry.fields) {
      if (!value.startsWith(LOCAL)) { fields.push([name, value]); continue; }
      const photo = await get("photos", value.slice(LOCAL.length));
      if (!photo) continue;  // removed from the phone: nothing to send
      const id = await uploadPhoto(photo, me.csrf);
      if (typeof id !== "string") return refuse(entry, "refused", id.error, "");
      fields.push([name, id]);
    }
    const body = new FormData();
    for (const [name, value] of fields) body.append(name, value);
    body.append("submission_id", entry.uid);
    body.append("csrf_token", me.csrf);
    body.append("client_filled_at", new Date(entry.filledAt).toISOString());
    let r;
    try {
      r = await fetch("/forms/" + encodeURIComponent(entry.form) + "/queued", { method: "POST", body,
        credentials: "same-origin", redirect: "manual", headers: { "X-CSRFToken": me.csrf, Accept: "application/json" } });
    } catch (e) { throw new Later(); }
    const data = (r.headers.get("Content-Type") || "").includes("json") ? await r.json().catch(() => null) : null;
    if (r.ok && data) { await markSent(entry.uid); return { sent: entry, url: data.url }; }
    if (!data || r.status >= 500 || r.status === 401 || r.status === 403) throw new Later();
    return refuse(entry, r.status === 409 ? "conflict" : "refused", data.error, data.link || "", data.problems || []);
  }

  async function refuse(entry, status, error, link, problems) {
    Object.assign(entry, { status, error, link, problems: problems || [], triedAt: Date.now() });
    await put("entries", entry);
    return { refused: entry };
  }

  // Send every queued entry of the logged-in person, three at a time (on a slow connection the round trips,
  // not the bytes, are most of the wait); one sender at a time across tabs and the service worker (Web
  // Locks), so two never post the same entry at once. Returns what happened.
  async function replay() {
    const work = async () => {
      const report = { sent: [], refused: [], left: 0 };
      const me = await session().catch(() => null);
      if (!me) { report.left = -1; return report; }
      const waiting = (await entriesOf(me.user)).filter((e) => e.status === "queued");
      let offline = false;
      const sender = async () => {
        while (waiting.length && !offline) {
          const entry = waiting.shift();
          try {
            const outcome = await send(entry, me);
            if (outcome.sent) report.sent.push(outcome);
            else report.refused.push(outcome.refused);
          } catch (e) {
            if (!(e instanceof Later)) throw e;
            offline = true;  // no connection: the rest would fail the same way
            report.left += 1;
          }
        }
      };
      await Promise.all([sender(), sender(), sender()]);
      report.left += waiting.length;
      return report;
    };
    return scope.navigator.locks ? scope.navigator.locks.request("outbox", work) : work();
  }

  scope.Outbox = { LOCAL, newId, keepPhoto, photoUrl, entriesOf, isUsed, markSent, forget, replay, uploadPhoto,
    photo: (id) => get("photos", id), get: (uid) => get("entries", uid), put: (entry) => put("entries", entry) };
})(self);
