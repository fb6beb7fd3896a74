/* global module, require */
'use strict';
// A .node file can only be loaded through require; this package is the CommonJS seam.
// eslint-disable-next-line @typescript-eslint/no-require-imports
module.exports = require('./build/Release/livegen_native.node');
