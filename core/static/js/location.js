// Reports where this device is, while the preferences page is open and the resident has
// chosen to share it (account/_location.html): once now, then every ten minutes. The
// site rounds it to about a kilometre and keeps it only for a while. Without
// JavaScript, or if the browser refuses, nothing is reported.
const HIDDEN = "govuk-!-display-none";
const EVERY_MS = 10 * 60 * 1000;

function report(control, status) {
  const { reportUrl, csrfToken } = control.dataset;
  navigator.geolocation.getCurrentPosition(async (position) => {
    const response = await fetch(reportUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({
        latitude: position.coords.latitude, longitude: position.coords.longitude,
      }),
    });
    status.textContent = response.ok ? control.dataset.sharedText : control.dataset.failedText;
    if (response.ok) status.dataset.reported = "yes";
  }, () => {
    status.textContent = control.dataset.blockedText;
  }, { enableHighAccuracy: false, maximumAge: 5 * 60 * 1000, timeout: 30 * 1000 });
}

const control = document.querySelector("[data-location-control]");
if (control && "geolocation" in navigator) {
  const status = control.querySelector("[data-location-status]");
  control.classList.remove(HIDDEN);
  report(control, status);
  setInterval(() => report(control, status), EVERY_MS);
}
