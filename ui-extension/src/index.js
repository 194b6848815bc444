// Entry point: the order is the order the classes are defined in.
import './setup.js';
import './api.js';
import './utils.js';
import './notice.js';
import './window/run-viewer.js';
import './window/plan.js';
import './window/patch.js';
import './dc/fleet.js';
import './dc/lists.js';
import './dc/panel.js';
import './guest/updates.js';
import './overrides.js';
