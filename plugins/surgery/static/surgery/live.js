// Live beat surgery: messages appear as they are published, without reloading the page.
//
// Progressive enhancement only: without JavaScript the page shows the messages as they
// were when it loaded, its form posts and comes back, and a Refresh link loads new ones.
// The server sends events (server-sent events) as messages are published, held for
// approval, approved or rejected, and when the session opens or closes. Everything
// people wrote goes into the page as text (textContent), never as HTML.

const HIDDEN = "govuk-!-display-none";

function capitalised(word) {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function start(root) {
  const posts = root.querySelector("[data-beat-posts]");
  const postsEmpty = root.querySelector("[data-beat-posts-empty]");
  const held = root.querySelector("[data-beat-held]");
  const heldEmpty = root.querySelector("[data-beat-held-empty]");
  const postTemplate = root.querySelector("template[data-beat-post-template]");
  const heldTemplate = root.querySelector("template[data-beat-held-template]");
  const note = root.querySelector("[data-beat-note]");
  const postArea = root.querySelector("[data-beat-post-area]");
  const statusTag = root.querySelector("[data-beat-status-tag]");
  let status = root.dataset.status;

  function find(id) {
    return root.querySelector(`[data-post-id="${id}"]`);
  }

  function updateEmpty() {
    if (postsEmpty && posts) postsEmpty.classList.toggle(HIDDEN, posts.children.length > 0);
    if (heldEmpty && held) heldEmpty.classList.toggle(HIDDEN, held.children.length > 0);
  }

  function build(post, template) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.postId = String(post.id);
    item.dataset.state = post.state;
    item.querySelector("[data-post-author]").textContent = post.author;
    item.querySelector("[data-post-time]").textContent = post.time;
    if (!post.officer) item.querySelector("[data-post-officer]")?.remove();
    if (post.state !== "held" || template === heldTemplate) {
      item.querySelector("[data-post-held]")?.remove();
    }
    const body = item.querySelector("[data-post-body]");
    for (const line of String(post.body).split("\n")) {
      if (!line.trim()) continue;
      const paragraph = document.createElement("p");
      paragraph.className = "govuk-body govuk-!-margin-bottom-2";
      paragraph.textContent = line;
      body.append(paragraph);
    }
    item.querySelectorAll("input[name='post_id']").forEach((input) => {
      input.value = String(post.id);
    });
    item.querySelectorAll("[data-post-name]").forEach((span) => {
      span.textContent = post.author;
    });
    return item;
  }

  function show(post) {
    if (!Number.isInteger(post.id)) return;
    const existing = find(post.id);
    if (existing && existing.dataset.state === post.state) return;
    const toHeld = held && heldTemplate && post.state === "held";
    const list = toHeld ? held : posts;
    if (!list) return;
    const item = build(post, toHeld ? heldTemplate : postTemplate);
    if (existing && existing.parentElement === list) {
      existing.replaceWith(item);
    } else {
      existing?.remove();
      list.append(item);
    }
    updateEmpty();
  }

  function remove(id) {
    if (!Number.isInteger(id)) return;
    find(id)?.remove();
    updateEmpty();
  }

  const source = new EventSource(root.dataset.streamUrl);

  function setStatus(next) {
    if (!next || next === status) return;
    status = next;
    root.dataset.status = next;
    const label = root.dataset[`label${capitalised(next)}`];
    if (statusTag && label) statusTag.textContent = label;
    const text = root.dataset[`note${capitalised(next)}`];
    if (note && text) note.textContent = text;
    if (postArea) postArea.hidden = next !== "open";
    if (next === "closed") source.close();
  }

  source.addEventListener("post", (event) => show(JSON.parse(event.data)));
  source.addEventListener("removed", (event) => remove(JSON.parse(event.data).id));
  source.addEventListener("status", (event) => setStatus(JSON.parse(event.data).status));

  // Posting without leaving the page: the same form, sent by the script.
  const form = root.querySelector("form[data-beat-post-form]");
  if (!form) return;
  const error = form.querySelector("[data-beat-form-error]");
  const text = form.querySelector("textarea");

  function showError(message) {
    if (!error) return;
    error.textContent = message || "";
    error.classList.toggle(HIDDEN, !message);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submitter = event.submitter;
    const data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    if (submitter) submitter.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const type = response.headers.get("Content-Type") || "";
      if (!type.includes("application/json")) {
        window.location.assign(response.url); // signed out, say: show what came back
        return;
      }
      const result = await response.json();
      if (response.ok && result.post) {
        show(result.post);
        if (text) text.value = "";
        showError("");
      } else {
        showError(result.error);
      }
    } catch {
      showError(root.dataset.networkError);
    } finally {
      if (submitter) submitter.disabled = false;
      text?.focus();
    }
  });
}

const root = document.querySelector("[data-beat-live]");
if (root && root.dataset.streamUrl && "EventSource" in window) start(root);
