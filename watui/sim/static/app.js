// The simulator's WhatsApp Web page: renders what the server says over the WebSocket, keeps the
// login in IndexedDB ("wawc" / "user") and localStorage like the real site, and reconnects by itself.
// The DOM it renders is the contract of watui/core/wa_page.py: change both together.
"use strict";

(() => {
  const PAGE_ID = document.querySelector('meta[name="wsim-page"]').content;
  const DB_NAME = "wawc";
  const STORE = "user";
  const TOKEN_KEY = "login-token";
  const LS_TOKEN = "WAToken1";
  const LS_WID = "last-wid-md";
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 5000;
  const CLOSE_STALLED = 4002; // the server's /__sim/stall: show the banner, never retry

  const app = document.getElementById("app");
  let ws = null;
  let chain = Promise.resolve();
  let view = "startup"; // startup | qr | expired | pairing | main | offline
  let inConflict = false;
  let takeover = false;
  let retryMs = RETRY_FIRST_MS;
  let retryTimer = null;

  // -- storage ---------------------------------------------------------------------------------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function inStore(mode, act) {
    const db = await openDb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = act(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req ? req.result : undefined);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  function lsGet(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  async function readToken() {
    try {
      const token = await inStore("readonly", (s) => s.get(TOKEN_KEY));
      if (typeof token === "string" && token) return token;
    } catch (e) { /* no IndexedDB: fall back to localStorage */ }
    return lsGet(LS_TOKEN);
  }

  async function storeLogin(token, wid) {
    if (!token) return;
    // The chat list appears only once the login is committed, so a browser closed right after sees it.
    try { await inStore("readwrite", (s) => s.put(token, TOKEN_KEY)); } catch (e) { /* keep localStorage */ }
    try {
      localStorage.setItem(LS_TOKEN, token);
      localStorage.setItem(LS_WID, JSON.stringify(wid));
    } catch (e) { /* storage full or denied: the session lives until the page closes */ }
  }

  async function wipeLogin() {
    try { await inStore("readwrite", (s) => s.clear()); } catch (e) { /* nothing stored */ }
    try {
      localStorage.removeItem(LS_TOKEN);
      localStorage.removeItem(LS_WID);
    } catch (e) { /* nothing stored */ }
  }

  // -- DOM helpers -----------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function show(name, ...nodes) {
    view = name;
    app.replaceChildren(...nodes);
  }

  function banner() {
    return el("div", { id: "conn-banner", class: "banner", role: "alert" },
      el("span", { "data-icon": "alert-computer", class: "banner-icon", "aria-hidden": "true", text: "!" }),
      el("div", { class: "banner-text" },
        el("div", { class: "banner-title", text: "Computer not connected" }),
        el("div", { class: "banner-sub", text: "Trying to reach WhatsApp\u2026 Make sure your computer has an active Internet connection." })));
  }

  function clearBanner() {
    const old = document.getElementById("conn-banner");
    if (old) old.remove();
  }

  function clearConflict() {
    const old = document.querySelector("[data-modal='conflict']");
    if (old) old.remove();
    inConflict = false;
  }

  // -- views -----------------------------------------------------------------------------------------
  function landing(box) {
    return el("div", { class: "landing" },
      el("div", { class: "landing-strip" }),
      el("div", { class: "landing-header", text: "WhatsApp Web" }),
      el("div", { class: "landing-card" },
        el("div", { class: "landing-text" },
          el("h1", { text: "Use WhatsApp on your computer" }),
          el("ol", {},
            el("li", { text: "Open WhatsApp on your phone" }),
            el("li", { text: "Tap Menu or Settings and select Linked devices" }),
            el("li", { text: "Tap on Link a device" }),
            el("li", { text: "Point your phone to this screen to capture the QR code" }))),
        el("div", { class: "qr-box" }, box)),
      el("div", { class: "landing-note", text: "watui simulator \u2014 not the real WhatsApp" }));
  }

  function drawQr(canvas, matrix) {
    const ctx = canvas.getContext("2d");
    const n = matrix.length;
    const quiet = 2;
    const scale = Math.floor(canvas.width / (n + 2 * quiet));
    const offset = Math.floor((canvas.width - scale * n) / 2);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#122e31";
    matrix.forEach((row, y) => {
      for (let x = 0; x < row.length; x += 1) {
        if (row[x] === "1") ctx.fillRect(offset + x * scale, offset + y * scale, scale, scale);
      }
    });
  }

  function renderQr(payload, matrix) {
    const canvas = el("canvas", { "aria-label": "Scan me!", role: "img", width: "264", height: "264" });
    drawQr(canvas, matrix);
    const current = document.querySelector("div[data-ref]");
    if (view === "qr" && current) {
      // A rotation changes the ref in place, as the real page does.
      current.setAttribute("data-ref", payload);
      current.replaceChildren(canvas);
      return;
    }
    show("qr", landing(el("div", { "data-ref": payload }, canvas)));
  }

  function renderExpired() {
    const button = el("button", { type: "button", class: "reload", text: "Click to reload QR code" });
    button.addEventListener("click", () => {
      button.disabled = true;
      send({ t: "reload_qr" });
    });
    show("expired", landing(el("div", { "data-ref": "" }, el("span", {}, button))));
  }

  function renderPairing() {
    show("pairing", el("div", { class: "loading-screen" },
      el("div", { "data-testid": "loading-chats", class: "loading-chats" },
        el("progress", { max: "100" }),
        el("div", { text: "Loading your chats" }))));
  }

  function chatRow(chat) {
    const unread = chat.unread ? el("span", { class: "chat-unread", text: chat.unread }) : "";
    return el("div", { class: "chat", role: "listitem" },
      el("div", { class: "avatar", "aria-hidden": "true", text: chat.name.slice(0, 1) }),
      el("div", { class: "chat-body" },
        el("div", { class: "chat-top" },
          el("span", { class: "chat-name", text: chat.name }),
          el("span", { class: "chat-time", text: chat.time })),
        el("div", { class: "chat-bottom" }, el("span", { class: "chat-last", text: chat.last }), unread)));
  }

  function renderMain(account, chats) {
    if (view === "main") return; // a reconnect: the chat list is already there
    const side = el("div", { id: "side" },
      el("header", {},
        el("div", { class: "avatar me", "aria-hidden": "true", text: account.name.slice(0, 1) }),
        el("div", { class: "me-text" },
          el("span", { "data-testid": "account-name", text: account.name }),
          el("span", { "data-testid": "account-number", text: account.number }))),
      el("div", { id: "banner-slot" }),
      el("div", { class: "search", text: "Search or start a new chat" }),
      el("div", { id: "pane-side", role: "list", "aria-label": "Chat list" }, ...chats.map(chatRow)));
    const main = el("div", { id: "main-empty" },
      el("h2", { text: "WhatsApp Web" }),
      el("p", { text: "Send and receive messages without keeping your phone online." }),
      el("p", { class: "e2e", text: "Your personal messages are end-to-end encrypted" }));
    show("main", el("div", { class: "two-pane" }, side, main));
  }

  function renderConflict() {
    clearConflict();
    inConflict = true;
    const useHere = el("button", { type: "button", "data-action": "use-here", class: "primary", text: "Use here" });
    const close = el("button", { type: "button", "data-action": "close", text: "Close" });
    const dialog = el("div", { "data-animate-modal-popup": "true", "data-modal": "conflict", role: "dialog", class: "modal" },
      el("div", { class: "modal-body", text: "WhatsApp is open in another window. Click \u201cUse here\u201d to use WhatsApp in this window." }),
      el("div", { class: "modal-actions" }, close, useHere));
    useHere.addEventListener("click", () => {
      useHere.disabled = true;
      close.disabled = true;
      inConflict = false;
      takeover = true;
      reconnectNow();
    });
    close.addEventListener("click", () => window.close());
    document.body.append(el("div", { class: "overlay" }, dialog));
  }

  function renderOffline() {
    clearConflict();
    if (document.getElementById("conn-banner")) return;
    if (view === "main") {
      document.getElementById("banner-slot").append(banner());
    } else if (view !== "startup") {
      // Without a connection the QR (or the reload button) would be a lie: replace it by the banner.
      show("offline", landing(banner()));
    }
  }

  // -- the connection --------------------------------------------------------------------------------
  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  async function handle(message) {
    switch (message.t) {
      case "qr": clearBanner(); renderQr(message.payload, message.matrix); break;
      case "qr_expired": renderExpired(); break;
      case "pairing": renderPairing(); break;
      case "connected":
        await storeLogin(message.token, message.wid);
        clearConflict();
        clearBanner();
        takeover = false;
        renderMain(message.account, message.chats);
        break;
      case "logged_out": await wipeLogin(); break;
      case "conflict": renderConflict(); break;
      default: break;
    }
  }

  function onClosed(sock, code) {
    if (ws !== sock) return;
    ws = null;
    if (inConflict) return; // no retry until "Use here"
    renderOffline();
    if (code === CLOSE_STALLED) return; // a tab that gave up: only a reload brings it back
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function reconnectNow() {
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryMs = RETRY_FIRST_MS;
    connect();
  }

  async function connect() {
    retryTimer = null;
    const token = await readToken();
    const sock = new WebSocket(`wss://${location.host}/ws?page=${encodeURIComponent(PAGE_ID)}`);
    ws = sock;
    sock.onopen = () => sock.send(JSON.stringify({ t: "hello", token: token, takeover: takeover }));
    sock.onmessage = (event) => {
      let message = null;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      retryMs = RETRY_FIRST_MS;
      chain = chain.then(() => handle(message)).catch(() => {});
    };
    sock.onerror = () => {}; // onclose follows and decides
    sock.onclose = (event) => { chain = chain.then(() => onClosed(sock, event.code)).catch(() => {}); };
  }

  connect();
})();
