// The form server's service worker (formserver/app/pwa.py serves it at /sw.js, made from this template).
//  - The app's own CSS, scripts and icons are cached when it installs, one cache per version of them.
//  - The home page and each form page are fetched from the network and their latest copy kept, so a form
//    used once opens without a connection (with the options it had then). Records and lists are not kept.
//  - A form posted while the connection drops is kept in the outbox (outbox.js) rather than lost, and the
//    person is sent to the home page, which lists it as waiting.
//  - Background sync, where the browser has it, sends the outbox when the connection returns; the pages
//    also send it on load and when they come back online.
importScripts({{ url_for('static', filename='outbox.js')|tojson }});

const VERSION = {{ version|tojson }};
const STATIC = "static-" + VERSION;
const PAGES = "pages";
const ASSETS = {{ assets|tojson }};
const OFFLINE = {{ offline_url|tojson }};
const KEPT_PAGE = /^\/(forms\/[^/]+)?$/;  // the home page and form pages, without a query

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC).then((cache) => cache.addAll([...ASSETS, OFFLINE])).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith("static-") && name !== STATIC) await caches.delete(name);
    await self.clients.claim();
  })());
});

async function fromNetworkKeeping(request) {
  const url = new URL(request.url);
  const kept = () => caches.match(url.pathname, { cacheName: PAGES });
  if (!self.navigator.onLine) {  // known to be offline: no failed request to wait for
    const cached = (await kept()) || (await caches.match(OFFLINE));
    if (cached) return cached;
  }
  try {
    const response = await fetch(request);
    // Only a page that is really the form (not the login page it may redirect to) is kept.
    if (response.ok && !response.redirected && !url.search && KEPT_PAGE.test(url.pathname)) {
      const cache = await caches.open(PAGES);
      await cache.put(url.pathname, response.clone());
    }
    return response;
  } catch (error) {
    const cached = (await kept()) || (await caches.match(OFFLINE));
    if (cached) return cached;
    throw error;
  }
}

async function fromCacheFirst(request) {
  const cached = await caches.match(request, { cacheName: STATIC });
  return cached || fetch(request);
}

// A form posted (no script, or the connection dropped between the page's check and the post): sent as is;
// when the network fails, its fields are queued exactly as the page would have queued them.
async function postOrQueue(request, formId) {
  const copy = request.clone();
  try {
    return await fetch(request);
  } catch (error) {
    const data = await copy.formData();
    const uid = data.get("submission_id");
    const me = data.get("outbox_user");
    if (!uid || !me) throw error;
    const fields = [];
    for (const [name, value] of data) {
      if (typeof value !== "string" || ["csrf_token", "submission_id", "outbox_user", "outbox_title"].includes(name)) continue;
      fields.push([name, value]);
    }
    await self.Outbox.put({ uid, form: formId, title: data.get("outbox_title") || formId, user: me, fields,
      filledAt: Date.now(), status: "queued", error: "", link: "", problems: [] });
    if (self.registration.sync) self.registration.sync.register("outbox").catch(() => {});
    return Response.redirect("/?queued=" + encodeURIComponent(uid), 303);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/handbook/") || url.pathname.startsWith("/api/")) return;
  const posted = /^\/forms\/([^/]+)$/.exec(url.pathname);
  if (request.method === "POST" && request.mode === "navigate" && posted) {
    event.respondWith(postOrQueue(request, decodeURIComponent(posted[1])));
  } else if (request.method !== "GET") {
    return;
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(fromCacheFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(fromNetworkKeeping(request));
  }
});

self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "keep-forms") {  // the forms this person uses, listed by the home page
    event.waitUntil((async () => {
      const cache = await caches.open(PAGES);
      for (const path of message.paths || []) {
        if (!KEPT_PAGE.test(path) || (await cache.match(path))) continue;
        const response = await fetch(path, { credentials: "same-origin" }).catch(() => null);
        if (response && response.ok && !response.redirected) await cache.put(path, response);
      }
    })());
  } else if (message.type === "logout") {  // kept pages show the person's name and token: not for the next one
    event.waitUntil(caches.delete(PAGES));
  }
});

self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(self.Outbox.replay().then(async (report) => {
    for (const client of await self.clients.matchAll()) client.postMessage({ type: "outbox-sent", report: summary(report) });
    if (report.left > 0) throw new Error("outbox not empty: the browser retries later");
  }));
});

function summary(report) {
  return { sent: report.sent.length, refused: report.refused.length, left: report.left };
}
