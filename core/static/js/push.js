// "Get alerts on this device": subscribes this browser to web push and tells the site.
// Progressive enhancement only: the control stays hidden without JavaScript, without
// push support in the browser, or when the site has no VAPID key (no control at all).
const HIDDEN = "govuk-!-display-none";

function keyBytes(base64url) {
  const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4))
    .replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function sameKey(buffer, key) {
  if (!buffer) return true; // the browser does not tell: assume it is ours
  const given = new Uint8Array(buffer);
  return given.length === key.length && given.every((byte, i) => byte === key[i]);
}

async function post(url, data, token) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(data),
  });
  if (!response.ok && response.status !== 404) throw new Error(`status ${response.status}`);
}

async function start(control) {
  const { publicKey, subscribeUrl, unsubscribeUrl, workerUrl, csrfToken } = control.dataset;
  const key = keyBytes(publicKey);
  const on = control.querySelector("[data-push-subscribe]");
  const off = control.querySelector("[data-push-unsubscribe]");
  const statuses = control.querySelectorAll("[data-push-status]");

  function show(state) {
    statuses.forEach((p) => p.classList.toggle(HIDDEN, p.dataset.pushStatus !== state));
    on.classList.toggle(HIDDEN, state === "on" || state === "blocked");
    off.classList.toggle(HIDDEN, state !== "on");
    on.disabled = off.disabled = false;
  }

  await navigator.serviceWorker.register(workerUrl, { scope: "/" });
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    // Made with a key the site no longer uses: push services would refuse our alerts.
    await post(unsubscribeUrl, { endpoint: subscription.endpoint }, csrfToken).catch(() => {});
    await subscription.unsubscribe();
    subscription = null;
  }
  if (subscription) {
    // Tell the site again, in case it forgot this device.
    await post(subscribeUrl, subscription.toJSON(), csrfToken).catch(() => {});
  }
  control.classList.remove(HIDDEN);
  show(subscription ? "on" : Notification.permission === "denied" ? "blocked" : "off");

  on.addEventListener("click", async () => {
    on.disabled = true;
    try {
      if (await Notification.requestPermission() !== "granted") {
        show("blocked");
        return;
      }
      const made = await registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: key,
      });
      try {
        await post(subscribeUrl, made.toJSON(), csrfToken);
      } catch (error) {
        await made.unsubscribe();
        throw error;
      }
      show("on");
    } catch (error) {
      show("failed");
    }
  });

  off.addEventListener("click", async () => {
    off.disabled = true;
    try {
      const current = await registration.pushManager.getSubscription();
      if (current) {
        await post(unsubscribeUrl, { endpoint: current.endpoint }, csrfToken);
        await current.unsubscribe();
      }
      show("off");
    } catch (error) {
      show("failed");
    }
  });
}

const control = document.querySelector("[data-push-control]");
if (control && window.isSecureContext && "serviceWorker" in navigator
    && "PushManager" in window && "Notification" in window) {
  start(control).catch(() => control.classList.add(HIDDEN));
}
