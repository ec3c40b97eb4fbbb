// Loaded by mocha before any test (see .mocharc.json): quiet logs unless asked.
process.env['ESPER_TEST'] = '1';
