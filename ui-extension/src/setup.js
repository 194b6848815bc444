/* global Ext, __PVEPATCH_CSS__ */
Ext.util.CSS.createStyleSheet(__PVEPATCH_CSS__, 'pvepatch-ui-css');
