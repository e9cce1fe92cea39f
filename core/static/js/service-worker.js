// The service worker, served at /service-worker.js so that its scope is the whole site.
// It only shows the alerts the site pushes (JSON: title, body, url, icon, tag, lang) and
// opens the alert's page when one is clicked. It caches nothing.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let alert = {};
  if (event.data) {
    try {
      alert = event.data.json();
    } catch (error) {
      alert = { body: event.data.text() };
    }
  }
  const options = {
    body: alert.body || "",
    data: { url: alert.url || "/" },
  };
  if (alert.icon) options.icon = alert.icon;
  if (alert.tag) options.tag = alert.tag;
  if (alert.lang) options.lang = alert.lang;
  event.waitUntil(self.registration.showNotification(alert.title || self.location.host, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  // Only ever open a page of this site, whatever the payload said.
  const given = new URL((event.notification.data && event.notification.data.url) || "/",
                        self.location.origin);
  const target = new URL(given.pathname + given.search, self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (client.url === target && "focus" in client) return client.focus();
    }
    return self.clients.openWindow(target);
  })());
});
