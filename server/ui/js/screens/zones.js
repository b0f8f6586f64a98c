// Zone and line editor (#/instance/<id>/zones), on the instance's last frame
// (`GET .../frame`): draw an area by clicking points (closed by clicking the
// first point or Finish), drag vertices, draw a line with two clicks and see
// / flip its direction arrow, pick the SecuRT rule type and its options, save
// through `POST /v1/securt/instance/{id}/area|line/<type>` (the server's 400
// message shows next to the form), edit (delete + re-create with the same id)
// and delete. Coordinates are normalised 0..1, origin top-left.

import { html, useState, useEffect, useRef, useAction, ErrorNote } from '../ui.js';
import { api, paths } from '../api.js';
import { hrefs } from '../router.js';
import * as geo from '../geometry.js';
import { AREA_TYPES, LINE_TYPES, OBJECT_CLASSES, AREA_EVENTS, DIRECTIONS, typeDef, defaultOptions, buildBody, flattenEntities, cssColor, hexToColor } from '../analytics-types.js';

const HIT_PX = 10;

const toHex = (c) => {
  if (!Array.isArray(c)) return '#ff0000';
  return '#' + c.slice(0, 3).map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('');
};

function newDraft(kind, from) {
  const def = from?.def ?? (kind === 'line' ? LINE_TYPES[0] : AREA_TYPES[0]);
  const e = from?.entity;
  const form = { ...defaultOptions(def), name: e?.name ?? '', colorHex: toHex(e?.color ?? (kind === 'line' ? [1, 0.8, 0, 1] : [1, 0, 0, 1])) };
  if (e) for (const k of Object.keys(def.options)) if (e[k] !== undefined) form[k] = e[k];
  return { kind, type: def.type, points: e ? e.coordinates.map((p) => ({ ...p })) : [], closed: Boolean(e), form, editId: e?.id ?? null };
}

function OptionsForm({ draft, setDraft, locked }) {
  const def = typeDef(draft.kind, draft.type);
  const f = draft.form;
  const set = (k, v) => setDraft({ ...draft, form: { ...f, [k]: v } });
  const types = draft.kind === 'line' ? LINE_TYPES : AREA_TYPES;
  return html`<div class="grid-form">
    <label>Rule type
      <select value=${draft.type} disabled=${Boolean(draft.editId)} onChange=${(e) => {
        const nd = typeDef(draft.kind, e.target.value);
        setDraft({ ...draft, type: nd.type, form: { ...defaultOptions(nd), name: f.name, colorHex: f.colorHex } });
      }}>
        ${types.map((t) => html`<option value=${t.type}>${t.label}</option>`)}
      </select>
    </label>
    <label>Name <input value=${f.name} onInput=${(e) => set('name', e.target.value)} /></label>
    <label>Colour <input type="color" value=${f.colorHex} onInput=${(e) => set('colorHex', e.target.value)} /></label>
    ${'classes' in def.options && html`<fieldset class="checks inline wide"><legend>Classes (none = all)</legend>
      ${OBJECT_CLASSES.map((c) => html`<label><input type="checkbox" checked=${f.classes.includes(c)}
        onChange=${(e) => set('classes', e.target.checked ? [...f.classes, c] : f.classes.filter((x) => x !== c))} /> ${c}</label>`)}
    </fieldset>`}
    ${'areaEvent' in def.options && html`<label>Fires on
      <select value=${f.areaEvent} onChange=${(e) => set('areaEvent', e.target.value)}>${AREA_EVENTS.map((v) => html`<option value=${v}>${v}</option>`)}</select></label>`}
    ${'ignoreStationaryObjects' in def.options && html`<label class="check"><input type="checkbox" checked=${f.ignoreStationaryObjects}
      onChange=${(e) => set('ignoreStationaryObjects', e.target.checked)} /> Ignore stationary objects</label>`}
    ${'seconds' in def.options && html`<label>Seconds <input type="number" min="0" step="1" value=${f.seconds ?? ''} placeholder="server default"
      onInput=${(e) => set('seconds', e.target.value)} /></label>`}
    ${'objectCount' in def.options && html`<label>Object count <input type="number" min="1" step="1" value=${f.objectCount ?? ''}
      onInput=${(e) => set('objectCount', e.target.value)} /></label>`}
    ${'direction' in def.options && html`<label>Direction
      <select value=${f.direction} onChange=${(e) => set('direction', e.target.value)}>${DIRECTIONS.map((v) => html`<option value=${v}>${v}</option>`)}</select></label>
      <button type="button" disabled=${f.direction === 'Both' || locked} onClick=${() => set('direction', geo.flipDirection(f.direction))}
        title="Up is the left of the line when walking from its first point to its second">Flip direction</button>`}
  </div>`;
}

function Shape({ kind, points, color, W, H, r, closed, direction, selected, draft }) {
  const px = points.map((p) => geo.toPixels(p, W, H));
  const pts = px.map((p) => `${p.x},${p.y}`).join(' ');
  const stroke = color;
  const sw = r * 0.5;
  let arrows = [];
  if (kind === 'line' && px.length === 2) {
    arrows = geo.directionArrows(px[0], px[1], direction || 'Both', r * 6).map((a) => ({ ...a, head: geo.arrowHead(a.from, a.to, r * 2) }));
  }
  return html`<g class=${`shape ${selected ? 'selected' : ''} ${draft ? 'draft' : ''}`}>
    ${kind === 'area' && (closed
      ? html`<polygon points=${pts} fill=${stroke} fill-opacity="0.18" stroke=${stroke} stroke-width=${sw} />`
      : html`<polyline points=${pts} fill="none" stroke=${stroke} stroke-width=${sw} stroke-dasharray=${`${r} ${r / 2}`} />`)}
    ${kind === 'line' && html`<polyline points=${pts} fill="none" stroke=${stroke} stroke-width=${sw * 1.4} />`}
    ${arrows.map((a) => html`<g class="arrow"><line x1=${a.from.x} y1=${a.from.y} x2=${a.to.x} y2=${a.to.y} stroke=${stroke} stroke-width=${sw} />
      <polyline points=${`${a.head[0].x},${a.head[0].y} ${a.to.x},${a.to.y} ${a.head[1].x},${a.head[1].y}`} fill="none" stroke=${stroke} stroke-width=${sw} /></g>`)}
    ${(draft || selected) && px.map((p, i) => html`<circle class=${`vertex ${i === 0 ? 'first' : ''}`} cx=${p.x} cy=${p.y} r=${r} />`)}
  </g>`;
}

export function ZonesScreen({ id }) {
  const [inst, setInst] = useState(null);
  const [securt, setSecurt] = useState(null); // null loading, true, or an error
  const [frame, setFrame] = useState(null); // {src, w, h} or {empty}
  const [entities, setEntities] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [draft, setDraft] = useState(null);
  const [selected, setSelected] = useState(null);
  const [scale, setScale] = useState(1); // viewBox units per screen pixel
  const svg = useRef(null);
  const drag = useRef(-1);
  const [kbd, setKbd] = useState(null); // keyboard cursor {x, y} while the canvas has focus

  const reloadEntities = async () => setEntities(await api.get(paths.entities(id)));
  const loadFrame = async () => {
    const f = await api.get(paths.frame(id));
    if (!f.frame) return setFrame({ empty: true, w: 1000, h: 750 });
    const src = `data:image/jpeg;base64,${f.frame}`;
    const img = new Image();
    img.onload = () => setFrame({ src, w: img.naturalWidth, h: img.naturalHeight });
    img.src = src;
  };
  useEffect(() => {
    (async () => {
      try {
        setInst(await api.get(paths.instance(id)));
        try {
          await api.get(paths.securt(id));
          setSecurt(true);
        } catch (e) {
          setSecurt(e);
          return;
        }
        await Promise.all([reloadEntities(), loadFrame()]);
      } catch (e) {
        setLoadError(e);
      }
    })();
  }, [id]);

  useEffect(() => {
    const el = svg.current;
    if (!el || !frame) return undefined;
    const ro = new ResizeObserver(() => {
      const r = el.getBoundingClientRect();
      if (r.width) setScale(frame.w / r.width);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [frame]);

  const locked = inst && (inst.readOnly || inst.systemInstance);
  const save = useAction(async () => {
    const def = typeDef(draft.kind, draft.type);
    const body = buildBody(def, { ...draft.form, color: hexToColor(draft.form.colorHex) }, draft.points);
    const create = draft.kind === 'line' ? paths.createLine : paths.createArea;
    if (draft.editId) {
      const del = draft.kind === 'line' ? paths.line : paths.area;
      // No update operation exists: delete, then create again with the same id.
      if (!draft.removed) {
        await api.del(del(id, draft.editId));
        draft.removed = true; // a retry after a refused create must not delete again
      }
      await api.put(`${create(id, draft.type)}/${encodeURIComponent(draft.editId)}`, body);
    } else {
      await api.post(create(id, draft.type), body);
    }
    setDraft(null);
    await reloadEntities();
  });
  const remove = useAction(async (item) => {
    await api.del((item.kind === 'line' ? paths.line : paths.area)(id, item.entity.id));
    if (selected === item.entity.id) setSelected(null);
    await reloadEntities();
  });

  const W = frame?.w ?? 1000;
  const H = frame?.h ?? 750;
  const r = 6 * scale;
  const norm = (e) => geo.toNormalized(e.clientX, e.clientY, svg.current.getBoundingClientRect());
  const clientPts = (points) => {
    const rect = svg.current.getBoundingClientRect();
    return points.map((p) => ({ x: rect.left + p.x * rect.width, y: rect.top + p.y * rect.height }));
  };
  const need = draft ? (draft.kind === 'line' ? 2 : 3) : 0;
  const drawing = draft && !draft.closed;

  const onPointerDown = (e) => {
    if (!draft || e.button !== 0) return;
    const here = { x: e.clientX, y: e.clientY };
    const cp = clientPts(draft.points);
    if (draft.kind === 'area' && drawing && geo.closesPolygon(cp, here, HIT_PX)) {
      setDraft({ ...draft, closed: true });
      return;
    }
    const hit = geo.hitVertex(cp, here, HIT_PX);
    if (hit >= 0) {
      drag.current = hit;
      svg.current.setPointerCapture(e.pointerId);
      return;
    }
    if (drawing) {
      const points = [...draft.points, norm(e)];
      setDraft({ ...draft, points, closed: draft.kind === 'line' && points.length === 2 });
    }
  };
  const onPointerMove = (e) => {
    if (drag.current < 0 || !draft) return;
    setDraft({ ...draft, points: geo.moveVertex(draft.points, drag.current, norm(e)) });
  };
  const endDrag = () => {
    drag.current = -1;
  };
  // Keyboard drawing: arrows move a cursor (1 %, Shift 5 %), Enter adds a point there.
  const onCanvasKey = (e) => {
    if (!draft || !kbd) return;
    const step = e.shiftKey ? 0.05 : 0.01;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      e.preventDefault();
      const [dx, dy] = moves[e.key];
      setKbd({ x: geo.round4(Math.min(1, Math.max(0, kbd.x + dx))), y: geo.round4(Math.min(1, Math.max(0, kbd.y + dy))) });
    } else if (e.key === 'Enter' && drawing) {
      e.preventDefault();
      const points = [...draft.points, { ...kbd }];
      setDraft({ ...draft, points, closed: draft.kind === 'line' && points.length === 2 });
    }
  };
  useEffect(() => {
    const onKey = (e) => {
      if (!draft) return;
      if (e.key === 'Escape') setDraft(null);
      if (e.key === 'Backspace' && drawing && e.target === document.body) setDraft({ ...draft, points: draft.points.slice(0, -1) });
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [draft]);

  const items = entities ? flattenEntities(entities) : [];
  const editingKey = draft?.editId ? `${draft.kind}:${draft.editId}` : null;
  const crumbs = html`<nav class="crumbs" aria-label="Breadcrumb"><a href="#/">Instances</a> › <a href=${hrefs.instance(id)}>${inst?.displayName || id}</a> › <span>Zones and lines</span></nav>`;

  if (securt && securt !== true) {
    return html`<section>${crumbs}<h1>Zones and lines</h1>
      <p class="error" role="alert">Areas and lines need a SecuRT instance (solution <code>securt</code>); this one is
        <code>${inst?.solutionId ?? '?'}</code>. ${securt.message}</p></section>`;
  }
  return html`<section class="zones">
    ${crumbs}
    <div class="row between wrap">
      <h1>Zones and lines ${locked && html`<span class="badge locked">🔒 read-only</span>`}</h1>
      <div class="row">
        <button type="button" onClick=${() => loadFrame().catch(setLoadError)}>Refresh frame</button>
        <button type="button" class="primary" disabled=${locked || Boolean(draft)} onClick=${() => { setSelected(null); setDraft(newDraft('area')); }}>Draw area</button>
        <button type="button" class="primary" disabled=${locked || Boolean(draft)} onClick=${() => { setSelected(null); setDraft(newDraft('line')); }}>Draw line</button>
      </div>
    </div>
    <${ErrorNote} error=${loadError} />
    <div class="split editor">
      <div class="stage-col">
        <p class="hint" role="status">${!draft
          ? 'Pick “Draw area” or “Draw line”, then click on the frame.'
          : drawing
            ? draft.kind === 'area'
              ? `Click to add points (${draft.points.length} so far); click the first point or Finish to close. Drag a point to move it. Esc cancels.`
              : `Click the line's ${draft.points.length === 0 ? 'first' : 'second'} point. Up is the left side walking from the first point to the second.`
            : 'Drag points to adjust, pick the rule and its options, then Save.'}</p>
        <div class="stage" style=${`aspect-ratio:${W}/${H}`}>
          ${frame?.src ? html`<img src=${frame.src} alt="Last frame of the instance" draggable="false" />` : html`<div class="noframe">${frame?.empty ? 'No frame yet: start the instance, then Refresh frame.' : 'Loading frame…'}</div>`}
          <svg ref=${svg} id="editor-canvas" viewBox=${`0 0 ${W} ${H}`} class=${draft ? 'drawing' : ''} aria-label="Editor: areas and lines on the frame. While drawing, arrow keys move the cursor and Enter adds a point." role="img"
            tabindex=${draft ? 0 : -1} onKeyDown=${onCanvasKey} onFocus=${(e) => e.target.matches(":focus-visible") && setKbd(kbd ?? { x: 0.5, y: 0.5 })} onBlur=${() => setKbd(null)}
            onPointerDown=${onPointerDown} onPointerMove=${onPointerMove} onPointerUp=${endDrag} onPointerCancel=${endDrag}>
            ${items.filter((it) => `${it.kind}:${it.entity.id}` !== editingKey).map((it) => html`<${Shape} kind=${it.kind} points=${it.entity.coordinates} color=${cssColor(it.entity.color)}
              W=${W} H=${H} r=${r} closed=${true} direction=${it.entity.direction} selected=${selected === `${it.kind}:${it.entity.id}`} />`)}
            ${draft && html`<${Shape} kind=${draft.kind} points=${draft.points} color=${draft.form.colorHex} W=${W} H=${H} r=${r}
              closed=${draft.closed} direction=${draft.form.direction} draft=${true} />`}
            ${draft && kbd && html`<g class="kbd-cursor"><line x1=${kbd.x * W - 3 * r} x2=${kbd.x * W + 3 * r} y1=${kbd.y * H} y2=${kbd.y * H} />
              <line x1=${kbd.x * W} x2=${kbd.x * W} y1=${kbd.y * H - 3 * r} y2=${kbd.y * H + 3 * r} /></g>`}
          </svg>
        </div>
      </div>
      <div class="side-col">
        ${draft && html`<form class="card" aria-labelledby="draft-title" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
          <h2 id="draft-title">${draft.editId ? `Edit ${draft.kind} ${draft.editId}` : `New ${draft.kind}`}</h2>
          <p class="muted small">${draft.points.length} point${draft.points.length === 1 ? '' : 's'}${draft.kind === 'area' ? (draft.closed ? ', closed' : ', open') : ''}</p>
          <div class="row">
            ${draft.kind === 'area' && drawing && html`<button type="button" disabled=${draft.points.length < 3} onClick=${() => setDraft({ ...draft, closed: true })}>Finish</button>`}
            ${drawing && html`<button type="button" disabled=${draft.points.length === 0} onClick=${() => setDraft({ ...draft, points: draft.points.slice(0, -1) })}>Undo point</button>`}
          </div>
          <${OptionsForm} draft=${draft} setDraft=${setDraft} locked=${locked} />
          <div class="row">
            <button type="submit" class="primary" disabled=${save.busy || !draft.closed || draft.points.length < need}>Save</button>
            <button type="button" onClick=${() => { setDraft(null); save.setError(null); }}>Cancel</button>
          </div>
          <${ErrorNote} error=${save.error} prefix="Not saved" />
        </form>`}
        <section class="card" aria-labelledby="list-title">
          <h2 id="list-title">Areas and lines</h2>
          <${ErrorNote} error=${remove.error} />
          ${entities && items.length === 0 && html`<p class="muted">None yet.</p>`}
          <ul class="entities">
            ${items.map((it) => {
              const key = `${it.kind}:${it.entity.id}`;
              return html`<li key=${key} data-entity=${it.entity.id} class=${selected === key ? 'selected' : ''}>
                <button type="button" class="linklike" aria-pressed=${selected === key} onClick=${() => setSelected(selected === key ? null : key)}>
                  <i class="swatch" style=${`background:${cssColor(it.entity.color)}`}></i>
                  <strong>${it.entity.name || '(unnamed)'}</strong> <span class="muted">${it.kind} · ${it.def.label}${it.entity.direction ? ` · ${it.entity.direction}` : ''}</span>
                </button>
                <span class="row">
                  <button type="button" disabled=${locked || Boolean(draft)} onClick=${() => { setSelected(null); setDraft(newDraft(it.kind, it)); }}>Edit</button>
                  <button type="button" class="danger" disabled=${locked || remove.busy} onClick=${() => remove.run(it)} aria-label=${`Delete ${it.kind} ${it.entity.name || it.entity.id}`}>Delete</button>
                </span>
              </li>`;
            })}
          </ul>
          <p class="muted small">Saved areas and lines appear on the <a href=${hrefs.instance(id)}>live view</a> (server-drawn overlay).</p>
        </section>
      </div>
    </div>
  </section>`;
}
