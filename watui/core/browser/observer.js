(() => {
  if (window.__watuiInstalled) return;
  window.__watuiInstalled = true;
  const binding = %(binding)s;
  const sel = %(table)s;
  const order = %(order)s;
  const mods = %(modules)s;
  const pix = %(pixels)s;
  let last = "";
  let scheduled = false;
  let live = null;          // {Socket, Conn, Cmd} once the modules channel is attached
  let modulesError = null;  // why it is not
  // Whether WhatsApp logged this page out: its own logout event (modules); this very page went from the
  // chat list to a QR; or the page started on a stored login, discarded it and shows a QR (what the site
  // does with a login the phone removed while nobody was looking). A QR on a page that started without a
  // login and never was connected is not a logout: the profile held no login.
  let loggedOut = false;
  let sawConnected = false;
  const storedWid = () => {
    try { return localStorage.getItem("last-wid-md") || localStorage.getItem("last-wid"); } catch (e) { return null; }
  };
  const hadLogin = !!storedWid();  // read before the page's own scripts run
  let qr = {ref: null, payload: null, building: null, error: null};

  const text = (s) => {
    try { const e = document.querySelector(s); return e ? e.textContent.trim() : null; } catch (e) { return null; }
  };
  const version = () => {
    try { return window.Debug && window.Debug.VERSION ? String(window.Debug.VERSION) : null; }
    catch (e) { return null; }
  };
  const req = (key) => window.require(mods[key]);

  const attach = () => {
    if (live || !version()) return;
    if (typeof window.require !== "function") { modulesError = "window.require is not a function"; return; }
    try {
      const Socket = req("socket").Socket;
      const Conn = req("conn").Conn;
      const Cmd = req("cmd").Cmd;
      if (!Socket || typeof Socket.on !== "function" || !Conn || typeof Conn.on !== "function") {
        throw new Error(`${mods.socket}.Socket or ${mods.conn}.Conn has no on()`);
      }
      // WhatsApp's events are discrete (no flood to coalesce, unlike DOM mutations): report at once.
      Socket.on("change:state", soon);
      Socket.on("change:hasSynced", soon);
      Conn.on("change:ref", soon);
      if (Cmd && typeof Cmd.on === "function") {
        Cmd.on("logout", onLogout);
        Cmd.on("logout_from_bridge", onLogout);
      }
      live = {Socket, Conn, Cmd};
      modulesError = null;
    } catch (e) {
      live = null;
      modulesError = String((e && e.message) || e);
    }
  };

  // The QR payload as public clients build it; the keys are fixed per page, only the ref rotates.
  const buildQr = async (ref) => {
    const reg = await req("signal_store").waSignalStore.getRegistrationInfo();
    const comp = req("companion_reg");
    const noise = await comp.waNoiseInfo.get();
    const b64 = req("base64").encodeB64;
    const adv = await req("adv_signature").getADVSecretKey();
    return [ref, b64(noise.staticKeyPair.pubKey), b64(reg.identityKeyPair.pubKey), adv, comp.DEVICE_PLATFORM].join(",");
  };
  const qrFor = (ref) => {
    if (!ref) return null;
    if (qr.ref === ref) return qr.payload;
    qr = {ref, payload: null, building: ref, error: null};
    buildQr(ref).then((payload) => { if (qr.ref === ref) { qr.payload = payload; qr.building = null; report(); } })
                .catch((e) => { if (qr.ref === ref) { qr.error = String((e && e.message) || e); report(); } });
    return null;
  };

  const readDom = () => {
    for (const [key, value] of order) {
      try { if (sel[key] && document.querySelector(sel[key])) return {key, state: value}; } catch (e) {}
    }
    return null;
  };

  const bigCanvas = () => {
    let best = null, area = 0;
    let list = [];
    try { list = document.querySelectorAll(pix.qr_canvas); } catch (e) { return null; }
    for (const c of list) {
      const r = c.getBoundingClientRect();
      if (r.width * r.height > area) { best = c; area = r.width * r.height; }
    }
    return area >= 64 ? best : null;
  };
  // A cheap signature of the canvas's pixels: changes when the QR is redrawn, even in place.
  const canvasSig = (c) => {
    try {
      const url = c.toDataURL();
      let h = 0;
      for (let i = 0; i < url.length; i += 7) h = (h * 31 + url.charCodeAt(i)) | 0;
      return `${c.width}x${c.height}:${url.length}:${h}`;
    } catch (e) { return `${c.width}x${c.height}:tainted`; }
  };

  const read = () => {
    attach();
    let channel = null, waState = null, state = null, payload = null, account = null;
    if (live) {
      try { waState = live.Socket.state; } catch (e) { waState = null; }
      if (typeof waState === "string" && waState) {
        channel = "modules";
        if (waState === "UNPAIRED") {
          try { payload = qrFor(live.Conn.ref); } catch (e) { payload = null; }
          // The QR and its state arrive together: wait for the payload (it takes a few ms) unless it failed.
          if (payload === null && qr.ref && qr.ref === qr.building && !qr.error) return null;
        }
      }
    }
    if (!channel) {
      const dom = readDom();
      if (dom) {
        channel = "dom";
        state = dom.state;
        if (state === "UNPAIRED") {
          const c = document.querySelector(sel.qr_container);
          payload = c ? (c.getAttribute("data-ref") || null) : null;
        }
      }
    }
    const wid = storedWid();
    const widNumber = wid ? wid.replace(/"/g, "").split(/[:@]/)[0] : null;
    let widId = null;  // the stored value as the profile on disk holds it (a JSON string)
    if (wid) { try { const v = JSON.parse(wid); widId = typeof v === "string" ? v : wid; } catch (e) { widId = wid; } }
    widId = widId ? widId.trim() || null : null;
    const settledIn = waState || state;
    if (settledIn === "CONNECTED" || settledIn === "TIMEOUT" || settledIn === "CONFLICT") {
      if (channel === "modules") {
        let name = null, number = null;
        try {
          name = live.Conn.pushname || null;
          const w = live.Conn.wid;
          number = w ? (w.user || String(w._serialized || w).split(/[:@]/)[0]) : null;
        } catch (e) {}
        account = {name, number: number || widNumber};
      } else {
        account = {name: text(sel.account_name), number: text(sel.account_number) || widNumber};
      }
    }
    let canvas = null;
    const unreadQr = !payload && (channel === null || settledIn === "UNPAIRED");
    if (unreadQr) { const c = bigCanvas(); canvas = c ? canvasSig(c) : null; }
    const asksForQr = settledIn === "UNPAIRED" || settledIn === "UNPAIRED_IDLE" || !!canvas;
    if (settledIn === "CONNECTED") sawConnected = true;
    else if (asksForQr && (sawConnected || (hadLogin && !wid))) loggedOut = true;
    return {channel, waState, state, qr: payload, account, canvas, version: version(), loggedOut, wid: widId};
  };

  const report = () => {
    scheduled = false;
    let now;
    try { now = read(); } catch (e) { now = {channel: null, error: String(e)}; }
    if (now === null) return;  // a report is being completed; it is scheduled again when ready
    const key = JSON.stringify(now);
    if (key === last) return;
    last = key;
    if (typeof window[binding] === "function") window[binding](now).catch(() => {});
  };
  function schedule() { if (!scheduled) { scheduled = true; setTimeout(report, 50); } }
  function soon() { setTimeout(report, 0); }
  function onLogout() { loggedOut = true; soon(); }

  window.__watuiReport = () => { last = ""; report(); };
  window.__watuiAct = (what) => {
    attach();
    if (!live) return false;
    const [obj, method] = what.split(".");
    const target = obj === "socket" ? live.Socket : obj === "cmd" ? live.Cmd : live.Conn;
    if (!target || typeof target[method] !== "function") return false;
    target[method]();
    return true;
  };
  window.__watuiProbe = () => {
    const out = [];
    const add = (channel, probe, matched, value) => {
      out.push({channel, probe, matched, value: value == null ? null : String(value).slice(0, 200)});
    };
    add("modules", "window.Debug.VERSION", !!version(), version());
    add("modules", "window.require", typeof window.require === "function", typeof window.require);
    for (const [key, name] of Object.entries(mods)) {
      let ok = false, value = null;
      try {
        const m = window.require(name);
        ok = m != null;
        value = m == null ? "null" : Object.keys(m).slice(0, 8).join(",");
      } catch (e) { value = String((e && e.message) || e); }
      add("modules", `require('${name}')`, ok, value);
    }
    if (live) {
      try { add("modules", "Socket.state", true, live.Socket.state); }
      catch (e) { add("modules", "Socket.state", false, e); }
      try { add("modules", "Conn.ref", !!live.Conn.ref, live.Conn.ref); }
      catch (e) { add("modules", "Conn.ref", false, e); }
    } else {
      add("modules", "attached", false, modulesError);
    }
    for (const [key, s] of Object.entries(sel)) {
      let n = 0, err = null;
      try { n = document.querySelectorAll(s).length; } catch (e) { err = String(e); }
      add("dom", key, n > 0, err || `${n} match(es) of ${s}`);
    }
    let n = 0;
    try { n = document.querySelectorAll(pix.qr_canvas).length; } catch (e) {}
    const c = bigCanvas();
    add("pixels", "qr_canvas", !!c, `${n} match(es) of ${pix.qr_canvas}`);
    return out;
  };

  const start = () => {
    const what = {subtree: true, childList: true, attributes: true, characterData: true};
    new MutationObserver(schedule).observe(document.documentElement, what);
    schedule();
    // WhatsApp defines Debug.VERSION and its modules some time after the DOM exists; a canvas may be
    // redrawn in place without a mutation. Both are looked at once a second (no report unless changed).
    setInterval(() => { if (!live || last.includes('"canvas":"')) schedule(); }, 1000);
    setTimeout(schedule, 250);
  };
  if (document.documentElement) start(); else document.addEventListener("DOMContentLoaded", start);
})();
