// Package xrayview is the X-Ray console, locally: the trace map, the trace
// list and a trace's timeline, built from the segment documents the awsxray
// exporter sends to PutTraceSegments, so that a user sees what X-Ray will
// show before deploying.
//
// The pieces, from documents to a browser:
//
//   - Segment is a segment document as X-Ray receives it (DecodeDocument,
//     ReadJSONLines, WriteJSONLines, Flatten).
//   - BuildServiceMap derives the map the console draws: nodes (name, X-Ray
//     type) with their requests, latency and error, fault and throttle counts,
//     and edges; the fidelity tests' golden map and make xray-segments use
//     this one implementation.
//   - Summaries and BuildTimeline give the trace list and a trace's timeline;
//     ParseFilter parses the list's annotation filter.
//   - Store keeps the newest traces as documents arrive, safe for concurrent
//     use, and signals changes.
//   - NewHandler serves the page, its JSON API and live updates from a Store;
//     WriteHTML writes the same page as one self-contained file.
//
// A runner feeds a Store from its X-Ray stand-in and serves NewHandler on a
// loopback port:
//
//	store := xrayview.NewStore()
//	// for each element of a PutTraceSegments request's TraceSegmentDocuments:
//	_ = store.AddDocument([]byte(doc))
//	srv := &http.Server{Handler: xrayview.NewHandler(store)}
//
// The page's graph layout is dagre's (@dagrejs/dagre from web/package-lock.json,
// vendored into web/assets/vendor/ by web/vendor.mjs and embedded); nothing
// is loaded from elsewhere.
package xrayview
