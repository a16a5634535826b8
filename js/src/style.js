// The player's CSS. Class names and data-* attributes here are what users' CSS and the tests select on.

export const PLAYER_STYLE = `
.jp-RangeVideo { max-width: 100%; position: relative; }
.jp-RangeVideo:focus { outline: 2px solid var(--jp-brand-color1, #1976d2); outline-offset: 1px; }
.jp-RangeVideo-frame { position: absolute; top: 4px; left: 0; transform: translateX(calc(-100% - 4px)); padding: 1px 5px; border-radius: 3px;
  background: rgba(0, 0, 0, 0.6); color: #fff; font: 12px/1.4 var(--jp-code-font-family, monospace);
  pointer-events: none; }
.jp-RangeVideo-video { display: block; max-width: 100%; background: #000; }
.jp-RangeVideo-audio { display: block; max-width: 100%; }
.jp-RangeVideo-proxy { position: absolute; pointer-events: none; opacity: 0; background: #000; }
.jp-RangeVideo-proxy[data-shown] { opacity: 1; }
.jp-RangeVideo:hover > .jp-RangeVideo-proxy.jp-mod-controls { clip-path: inset(0 0 48px 0); }
.jp-RangeVideo-held { position: absolute; pointer-events: none; }
.jp-RangeVideo:hover .jp-RangeVideo-held.jp-mod-controls { clip-path: inset(0 0 48px 0); }
.jp-RangeVideo-busy { position: absolute; top: 8px; left: 8px; display: flex; align-items: center; gap: 0.5em;
  padding: 0.25em 0.7em; border-radius: 1em; background: rgba(0, 0, 0, 0.65); color: #fff;
  font: 12px var(--jp-ui-font-family, sans-serif); pointer-events: none; }
.jp-RangeVideo-busy[hidden] { display: none; }
.jp-RangeVideo-spinner { width: 10px; height: 10px; border: 2px solid rgba(255, 255, 255, 0.35);
  border-top-color: #fff; border-radius: 50%; animation: jp-RangeVideo-spin 0.8s linear infinite; }
@keyframes jp-RangeVideo-spin { to { transform: rotate(360deg); } }
.jp-RangeVideo-message { padding: 0.6em 0.8em; border: 1px solid var(--jp-border-color1, #bbb);
  border-left: 4px solid var(--jp-warn-color1, #e69500); background: var(--jp-layout-color1, #fff);
  color: var(--jp-ui-font-color1, #222); font-family: var(--jp-ui-font-family, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); max-width: 60em; }
`;

export const VISUALS_STYLE = `
.jp-RangeVideo-visuals { position: relative; }
.jp-RangeVideo-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.jp-RangeVideo-bar { display: flex; align-items: stretch; height: 14px; margin-top: 2px; user-select: none; }
.jp-RangeVideo-track { position: relative; flex: 1 1 auto; background: rgba(128, 128, 128, 0.25); overflow: hidden; }
.jp-RangeVideo-chapter { position: absolute; top: 0; bottom: 0; background: rgba(33, 150, 243, 0.35);
  border-left: 1px solid rgba(33, 150, 243, 0.9); font: 10px/14px sans-serif; color: var(--jp-ui-font-color1, #222);
  overflow: hidden; white-space: nowrap; text-overflow: ellipsis; padding-left: 2px; cursor: pointer; box-sizing: border-box; }
.jp-RangeVideo-chapter:nth-child(even) { background: rgba(33, 150, 243, 0.2); }
.jp-RangeVideo-tick { position: absolute; top: 0; bottom: 0; width: 3px; margin-left: -1px; background: #e53935; cursor: pointer; }
.jp-RangeVideo-playhead { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px; background: #fff;
  box-shadow: 0 0 1px #000; pointer-events: none; }
.jp-RangeVideo-fullscreen { flex: 0 0 18px; border: none; padding: 0; margin-left: 2px; cursor: pointer;
  background: rgba(128, 128, 128, 0.25); color: inherit; font-size: 11px; line-height: 14px; }
.jp-RangeVideo:fullscreen { display: flex; flex-direction: column; justify-content: center; background: #000; }
.jp-RangeVideo:fullscreen .jp-RangeVideo-video { width: 100% !important; height: auto !important; flex: 1 1 0;
  min-height: 0; max-width: none; }
.jp-RangeVideo:fullscreen .jp-RangeVideo-bar { flex: 0 0 14px; }
`;
