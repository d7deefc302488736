// pkg/ops.js is loaded in the worker as well as on the page: its page-side code tests for the
// page's elements (behind typeof guards). What it uses of them, as the workers' program sees it
// (the page's own lib has them in full; the two libs cannot be in one program).
interface HTMLImageElement { readonly complete: boolean; readonly naturalWidth: number; decode(): Promise<void> }
declare var HTMLImageElement: { prototype: HTMLImageElement; new (): HTMLImageElement };
interface HTMLCanvasElement { readonly width: number }
declare var HTMLCanvasElement: { prototype: HTMLCanvasElement; new (): HTMLCanvasElement };
interface HTMLVideoElement { readonly videoWidth: number }
declare var HTMLVideoElement: { prototype: HTMLVideoElement; new (): HTMLVideoElement };
