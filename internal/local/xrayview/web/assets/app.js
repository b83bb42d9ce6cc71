// The X-Ray view: the trace map, the trace list and a trace's timeline, drawn
// from what the Go side computes (the map, the summaries, the timelines): this
// file only renders. It reads the live JSON API of xrayview.NewHandler, or the
// data inlined in a snapshot written by xrayview.WriteHTML. The map's layout
// is dagre's (@dagrejs/dagre, vendored from the lockfile); this file draws the
// laid-out nodes and edges as SVG.
(function () {
  'use strict';

  // Node colours of the X-Ray console's trace map: "Green for successful
  // calls, Red for server faults (500 series errors), Yellow for client errors
  // (400 series errors), Purple for throttling errors (429 Too Many
  // Requests)" (https://docs.aws.amazon.com/xray/latest/devguide/xray-console.html,
  // "Viewing the service map"). The values match style.css.
  var COLORS = { ok: '#2ea44f', error: '#f0a30a', fault: '#d13212', throttle: '#8a4baf' };
  var STATUS_ORDER = ['ok', 'error', 'fault', 'throttle'];
  var SVG = 'http://www.w3.org/2000/svg';

  var inline = document.getElementById('xrayview-data');
  var snapshot = inline ? JSON.parse(inline.textContent) : null;
  var app = document.getElementById('app');
  var state = { selectedNode: null, filter: '' };

  // --- data ---------------------------------------------------------------

  function getJSON(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error(body.error || (r.status + ' ' + r.statusText)); }
        return body;
      });
    });
  }

  var api = {
    map: function () {
      return snapshot ? Promise.resolve(snapshot.map) : getJSON('api/map');
    },
    traces: function (filter) {
      if (snapshot) {
        if (filter) {
          return Promise.reject(new Error('filters run on the live page (make run); this snapshot lists every trace'));
        }
        return Promise.resolve({ traces: snapshot.traces });
      }
      return getJSON('api/traces?filter=' + encodeURIComponent(filter));
    },
    trace: function (id) {
      if (snapshot) {
        var t = snapshot.timelines[id];
        return t ? Promise.resolve(t) : Promise.reject(new Error('no trace ' + id + ' in this snapshot'));
      }
      return getJSON('api/trace/' + encodeURIComponent(id));
    },
  };

  // --- DOM helpers ----------------------------------------------------------

  function build(ns, tag, attrs, children) {
    var el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) { return; }
      if (k === 'text') { el.textContent = v; } else if (k === 'onclick') { el.addEventListener('click', v); } else { el.setAttribute(k, v); }
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return el;
  }
  function h(tag, attrs) { return build(null, tag, attrs, Array.prototype.slice.call(arguments, 2)); }
  function s(tag, attrs) { return build(SVG, tag, attrs, Array.prototype.slice.call(arguments, 2)); }

  function ms(v) {
    if (v >= 1000) { return (v / 1000).toFixed(2) + ' s'; }
    if (v >= 10) { return Math.round(v) + ' ms'; }
    return v.toFixed(1) + ' ms';
  }
  function pct(v) { return Math.round(v * 100) + '%'; }
  function badge(status) { return h('span', { class: 'badge ' + status, 'data-status': status, text: status === 'ok' ? 'OK' : status }); }
  function fmtValue(v) { return typeof v === 'string' ? JSON.stringify(v) : String(v); }

  // --- the trace map --------------------------------------------------------

  // ring draws a node's outline as the console does: arcs in the colours of
  // its ok, error, fault and throttle shares.
  function ring(node, r) {
    var g = s('g', { class: 'ring', transform: 'rotate(-90)' });
    var c = 2 * Math.PI * r;
    var offset = 0;
    STATUS_ORDER.forEach(function (st) {
      var share = node[st + 'Share'] || 0;
      if (share <= 0) { return; }
      g.appendChild(s('circle', {
        r: r, fill: 'none', stroke: COLORS[st], 'stroke-width': 5, 'data-status': st,
        'stroke-dasharray': (share * c) + ' ' + c, 'stroke-dashoffset': -offset * c,
      }));
      offset += share;
    });
    return g;
  }

  function edgePath(points) {
    var d = 'M' + points[0].x + ',' + points[0].y;
    if (points.length === 2) { return d + 'L' + points[1].x + ',' + points[1].y; }
    // A smooth curve through dagre's bend points: quadratic segments between
    // their midpoints.
    for (var i = 1; i < points.length - 1; i++) {
      var mid = { x: (points[i].x + points[i + 1].x) / 2, y: (points[i].y + points[i + 1].y) / 2 };
      if (i === points.length - 2) { mid = points[i + 1]; }
      d += 'Q' + points[i].x + ',' + points[i].y + ' ' + mid.x + ',' + mid.y;
    }
    return d;
  }

  function drawMap(data) {
    var R = 30;
    var g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 28, edgesep: 10, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(function () { return {}; });
    data.nodes.forEach(function (n) { g.setNode(n.id, { width: 128, height: 2 * R + 34 }); });
    data.edges.forEach(function (e) { g.setEdge(e.from, e.to, { width: 62, height: 14, labelpos: 'c' }); });
    dagre.layout(g);

    var size = g.graph();
    var svg = s('svg', {
      class: 'service-map', width: Math.ceil(size.width), height: Math.ceil(size.height),
      viewBox: '0 0 ' + Math.ceil(size.width) + ' ' + Math.ceil(size.height), role: 'img', 'aria-label': 'trace map',
    });
    svg.appendChild(s('defs', {}, s('marker', {
      id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
    }, s('path', { d: 'M0,0L10,5L0,10z', fill: '#879596' }))));

    data.edges.forEach(function (e) {
      var lay = g.edge(e.from, e.to);
      svg.appendChild(s('g', {
        class: 'edge', 'data-from': e.from, 'data-to': e.to, 'data-count': e.count,
      },
      s('path', { d: edgePath(lay.points), 'marker-end': 'url(#arrow)' }),
      s('title', { text: e.from + ' → ' + e.to + ': ' + e.count + ' requests, avg ' + ms(e.averageMs) }),
      s('text', { x: lay.x, y: lay.y - 4, 'text-anchor': 'middle', text: e.count + ' · ' + ms(e.averageMs) })));
    });

    data.nodes.forEach(function (n) {
      var lay = g.node(n.id);
      var cy = -12; // the circle above, the name and type below
      var el = s('g', {
        class: 'node' + (n.client ? ' client' : '') + (state.selectedNode === n.id ? ' selected' : ''),
        transform: 'translate(' + lay.x + ',' + lay.y + ')',
        'data-id': n.id, 'data-name': n.name, 'data-type': n.type, 'data-count': n.count,
        'data-errors': n.errors, 'data-faults': n.faults, 'data-throttles': n.throttles,
        'data-status': n.status, tabindex: 0,
        onclick: function () { state.selectedNode = n.id; render(); },
      });
      var body = s('g', { transform: 'translate(0,' + cy + ')' },
        s('circle', { class: 'face', r: R }));
      if (n.client) {
        body.appendChild(s('text', { class: 'avg', 'text-anchor': 'middle', y: 4, text: 'Client' }));
      } else {
        body.appendChild(ring(n, R));
        body.appendChild(s('text', { class: 'avg', 'text-anchor': 'middle', y: -1, text: ms(n.averageMs) }));
        body.appendChild(s('text', { class: 'rate', 'text-anchor': 'middle', y: 12, text: n.count + ' req' }));
      }
      el.appendChild(body);
      if (!n.client) {
        el.appendChild(s('text', { class: 'name', 'text-anchor': 'middle', y: cy + R + 16, text: n.name }));
        el.appendChild(s('text', { class: 'type', 'text-anchor': 'middle', y: cy + R + 29, text: n.type }));
      }
      el.appendChild(s('title', { text: n.id }));
      svg.appendChild(el);
    });
    return svg;
  }

  function nodePanel(data) {
    var n = data.nodes.filter(function (x) { return x.id === state.selectedNode; })[0];
    if (!n) {
      return h('div', { class: 'panel side' }, h('h2', { text: 'Nodes' }),
        h('p', { class: 'muted', text: data.nodes.length + ' nodes, ' + data.edges.length + ' edges. Choose a node for its statistics.' }));
    }
    return h('div', { class: 'panel side node-details', 'data-id': n.id },
      h('h2', { text: n.name }),
      h('p', { class: 'muted', text: n.type }),
      h('dl', { class: 'kv' },
        h('dt', { text: 'Requests' }), h('dd', { text: String(n.count) }),
        h('dt', { text: 'Average latency' }), h('dd', { text: ms(n.averageMs) }),
        h('dt', {}, h('span', { class: 'swatch c-ok' }), 'OK'), h('dd', { text: pct(n.okShare) }),
        h('dt', {}, h('span', { class: 'swatch c-error' }), 'Errors (4xx)'), h('dd', { text: pct(n.errorShare) + ' (' + n.errors + ')' }),
        h('dt', {}, h('span', { class: 'swatch c-fault' }), 'Faults (5xx)'), h('dd', { text: pct(n.faultShare) + ' (' + n.faults + ')' }),
        h('dt', {}, h('span', { class: 'swatch c-throttle' }), 'Throttles (429)'), h('dd', { text: pct(n.throttleShare) + ' (' + n.throttles + ')' })));
  }

  function legend() {
    return h('div', { class: 'legend' },
      h('span', { class: 'c-ok', text: 'OK' }), h('span', { class: 'c-error', text: 'Errors (4xx)' }),
      h('span', { class: 'c-fault', text: 'Faults (5xx)' }), h('span', { class: 'c-throttle', text: 'Throttles (429)' }));
  }

  function renderMap() {
    return api.map().then(function (data) {
      var mapPanel = h('div', { class: 'panel map' }, h('h2', { text: 'Trace map' }));
      if (!data.nodes.length) {
        mapPanel.appendChild(h('p', { class: 'muted empty', text: 'No traces yet: send a request.' }));
      } else {
        mapPanel.appendChild(drawMap(data));
      }
      mapPanel.appendChild(legend());
      return h('div', { class: 'map-layout' }, mapPanel, nodePanel(data));
    });
  }

  // --- the trace list -------------------------------------------------------

  function annotationsCell(ann) {
    var td = h('td', { class: 'annotations' });
    Object.keys(ann || {}).sort().forEach(function (k) {
      ann[k].forEach(function (v) { td.appendChild(h('code', { text: k + '=' + fmtValue(v) })); });
    });
    return td;
  }

  function traceRow(t) {
    return h('tr', { class: 'trace', 'data-id': t.id, 'data-status': t.status },
      h('td', {}, h('a', { href: '#/trace/' + t.id, text: t.id })),
      h('td', { text: new Date(t.startTime).toLocaleTimeString() }),
      h('td', { text: ms(t.responseTimeMs) }),
      h('td', { text: ms(t.durationMs) }),
      h('td', {}, badge(t.status)),
      h('td', { text: t.method || '' }),
      h('td', { text: t.url || t.root }),
      h('td', { text: t.responseCode ? String(t.responseCode) : '' }),
      h('td', { class: 'fault-nodes', text: (t.faultNodes || []).concat(t.errorNodes || []).join(', ') }),
      annotationsCell(t.annotations));
  }

  function renderTraces(query) {
    state.filter = query.filter || '';
    var input = h('input', { id: 'filter', name: 'filter', value: state.filter, spellcheck: 'false', placeholder: 'annotation.path = "/hello"' });
    var form = h('form', { class: 'filter' }, input, h('button', { type: 'submit', text: 'Run query' }));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      location.hash = '#/traces?filter=' + encodeURIComponent(input.value);
    });
    var errorBox = h('div', { class: 'filter-error', role: 'alert' });
    var panel = h('div', { class: 'panel' }, h('h2', { text: 'Traces' }), form, errorBox);
    return api.traces(state.filter).then(function (data) {
      var tbody = h('tbody', {});
      data.traces.forEach(function (t) { tbody.appendChild(traceRow(t)); });
      panel.appendChild(h('p', { class: 'muted count', text: data.traces.length + ' traces, newest first' }));
      panel.appendChild(h('table', { class: 'trace-list' },
        h('thead', {}, h('tr', {},
          h('th', { text: 'ID' }), h('th', { text: 'Start' }), h('th', { text: 'Response time' }), h('th', { text: 'Duration' }),
          h('th', { text: 'Status' }), h('th', { text: 'Method' }), h('th', { text: 'URL' }), h('th', { text: 'Code' }),
          h('th', { text: 'Faults and errors in' }), h('th', { text: 'Annotations' }))),
        tbody));
      return panel;
    }, function (err) {
      errorBox.textContent = err.message;
      return panel;
    });
  }

  // --- a trace's timeline -----------------------------------------------------

  function kv(obj) {
    var dl = h('dl', { class: 'kv' });
    Object.keys(obj).forEach(function (k) {
      var v = obj[k];
      if (v === undefined || v === null || v === '' || v === 0) { return; }
      dl.appendChild(h('dt', { text: k }));
      dl.appendChild(h('dd', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) }));
    });
    return dl;
  }

  function exceptions(cause) {
    var box = h('div', { class: 'exceptions' });
    if (cause.working_directory) { box.appendChild(h('p', { class: 'muted', text: 'working directory: ' + cause.working_directory })); }
    (cause.exceptions || []).forEach(function (e) {
      var stack = h('ol', { class: 'stack' });
      (e.stack || []).forEach(function (f) {
        stack.appendChild(h('li', { text: (f.label || '?') + '  ' + (f.path || '') + (f.line ? ':' + f.line : '') }));
      });
      box.appendChild(h('div', { class: 'exception', 'data-type': e.type || '' },
        h('div', { class: 'type', text: (e.type || 'error') + (e.remote ? ' (remote)' : '') }),
        h('div', { class: 'message', text: e.message || '' }),
        e.truncated ? h('div', { class: 'muted', text: e.truncated + ' frames truncated' }) : null,
        stack));
    });
    if (typeof cause === 'string' || (cause.exceptionId && !(cause.exceptions || []).length)) {
      box.appendChild(h('p', { text: 'exception ' + (cause.exceptionId || cause) + ' (recorded in a subsegment)' }));
    }
    return box;
  }

  function rowDetails(r) {
    var panel = h('div', { class: 'panel segment-details', 'data-id': r.id, 'data-name': r.name },
      h('h2', { text: r.name }),
      h('h3', { text: 'Overview' }),
      kv({
        kind: r.segment ? 'segment' : 'subsegment', origin: r.origin, namespace: r.namespace, id: r.id,
        'parent id': r.parentId, 'resource ARN': r.resourceArn, start: '+' + ms(r.offsetMs),
        duration: r.inProgress ? 'in progress' : ms(r.durationMs), status: r.status,
      }));
    var aws = r.aws ? kv(r.aws) : null;
    if (aws && aws.children.length) { panel.appendChild(h('h3', { text: 'Resources' })); panel.appendChild(h('div', { class: 'aws' }, aws)); }
    if (r.http) {
      var req = r.http.request || {}, resp = r.http.response || {};
      panel.appendChild(h('h3', { text: 'Request' }));
      panel.appendChild(h('div', { class: 'http' }, kv({ method: req.method, url: req.url, 'user agent': req.user_agent, 'client ip': req.client_ip, status: resp.status, 'content length': resp.content_length })));
    }
    if (r.annotations) { panel.appendChild(h('h3', { text: 'Annotations' })); panel.appendChild(h('div', { class: 'annotations' }, kv(r.annotations))); }
    if (r.metadata) { panel.appendChild(h('h3', { text: 'Metadata' })); panel.appendChild(h('pre', { class: 'metadata', text: JSON.stringify(r.metadata, null, 2) })); }
    if (r.cause) { panel.appendChild(h('h3', { text: 'Exceptions' })); panel.appendChild(exceptions(r.cause)); }
    if (r.links) { panel.appendChild(h('h3', { text: 'Links' })); panel.appendChild(h('pre', { text: JSON.stringify(r.links, null, 2) })); }
    return panel;
  }

  function renderTrace(id, segmentID) {
    return api.trace(id).then(function (t) {
      var chosen = t.rows.filter(function (r) { return r.id === segmentID; })[0] ||
        t.rows.filter(function (r) { return r.cause && r.status !== 'ok'; })[0] || t.rows[0];
      var total = t.durationMs || 1;
      var tbody = h('tbody', {});
      t.rows.forEach(function (r) {
        var left = Math.max(0, Math.min(100, r.offsetMs / total * 100));
        var width = Math.max(0, Math.min(100 - left, r.durationMs / total * 100));
        var code = r.http && r.http.response && r.http.response.status;
        tbody.appendChild(h('tr', {
          class: (r.segment ? 'segment' : 'subsegment') + (chosen && chosen.id === r.id ? ' selected' : ''),
          'data-id': r.id, 'data-name': r.name, 'data-status': r.status, 'data-depth': r.depth,
          onclick: function () { location.hash = '#/trace/' + t.traceId + '/' + r.id; },
        },
        h('td', { class: 'name', style: 'padding-left:' + (8 + 16 * r.depth) + 'px' }, r.name,
          h('span', { class: 'ns', text: r.segment ? r.origin : (r.namespace || '') })),
        h('td', { text: code ? String(code) : '-' }),
        h('td', { text: r.inProgress ? 'in progress' : ms(r.durationMs) }),
        h('td', {}, badge(r.status)),
        h('td', { class: 'bar' }, h('div', { class: 'track' },
          h('div', { class: 'fill ' + r.status, style: 'left:' + left + '%;width:' + width + '%' })))));
      });
      var sum = t.summary;
      var header = h('div', { class: 'panel trace-header', 'data-id': t.traceId },
        h('h2', { text: 'Trace ' + t.traceId }),
        h('p', {}, badge(sum.status), ' ', (sum.method ? sum.method + ' ' : '') + (sum.url || sum.root),
          ' · response time ' + ms(sum.responseTimeMs) + ' · duration ' + ms(t.durationMs) + ' · ' + t.rows.length + ' segments and subsegments · ' + new Date(t.startTime).toLocaleString()),
        h('table', { class: 'timeline' },
          h('thead', {}, h('tr', {}, h('th', { text: 'Name' }), h('th', { text: 'Res.' }), h('th', { text: 'Duration' }), h('th', { text: 'Status' }),
            h('th', { text: 'Timeline (' + ms(total) + ')' }))),
          tbody));
      return h('div', {}, header, chosen ? rowDetails(chosen) : null);
    });
  }

  // --- routing and live updates -----------------------------------------------

  function route() {
    var hash = location.hash.replace(/^#\/?/, '');
    var path = hash.split('?')[0];
    var query = {};
    (hash.split('?')[1] || '').split('&').forEach(function (kvp) {
      if (!kvp) { return; }
      var i = kvp.indexOf('=');
      // Form encoding: a + is a space (a literal + arrives as %2B).
      var dec = function (x) { return decodeURIComponent(x.replace(/\+/g, ' ')); };
      query[dec(kvp.slice(0, i < 0 ? kvp.length : i))] = i < 0 ? '' : dec(kvp.slice(i + 1));
    });
    var parts = path.split('/');
    return { name: parts[0] || 'map', args: parts.slice(1), query: query };
  }

  var rendering = 0;
  function render() {
    var r = route();
    var seq = ++rendering;
    document.querySelectorAll('header nav a').forEach(function (a) {
      a.classList.toggle('active', a.getAttribute('data-route') === (r.name === 'trace' ? 'traces' : r.name));
    });
    var view;
    if (r.name === 'traces') { view = renderTraces(r.query); } else if (r.name === 'trace') { view = renderTrace(r.args[0], r.args[1]); } else { view = renderMap(); }
    return view.then(function (el) {
      if (seq !== rendering) { return; } // a newer render won
      var focused = document.activeElement && document.activeElement.id === 'filter' ? document.activeElement.value : null;
      app.replaceChildren(el);
      if (focused !== null) { var f = document.getElementById('filter'); f.value = focused; f.focus(); }
      app.setAttribute('data-view', r.name);
      app.setAttribute('data-rendered', String(seq));
    }, function (err) {
      if (seq !== rendering) { return; }
      app.replaceChildren(h('div', { class: 'panel error-box', role: 'alert', text: err.message }));
      app.setAttribute('data-view', r.name);
    });
  }

  window.addEventListener('hashchange', render);
  render();

  if (!snapshot && window.EventSource) {
    var live = document.getElementById('live');
    var pending = null;
    var events = new EventSource('api/events');
    events.addEventListener('update', function (ev) {
      live.textContent = 'live · update ' + ev.data;
      // Requests arrive in bursts of documents: redraw once a burst settles.
      clearTimeout(pending);
      pending = setTimeout(render, 300);
    });
    events.onerror = function () { live.textContent = 'reconnecting…'; };
  }
})();
