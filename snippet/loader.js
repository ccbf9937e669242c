/*
 * ekEvents loader stub.
 *
 * Pasted inline, in a <script> element of the site's own HTML, just before
 *   <script async src=".../s/{site_key}.js"></script>
 * The tracker loads asynchronously, so page code may call ekEvents.push(...) before it
 * exists. Until then this stub only remembers each call's arguments, in order; the
 * tracker replays them once it runs and then replaces push so later calls go straight
 * through. Keeping an existing ekEvents object makes pasting the stub twice harmless.
 */
window.ekEvents = window.ekEvents || {q: [], push: function () { this.q.push(arguments); }};
