// @ts-check
// The camera: a live view placed where it is asked for (under Classify's drop zone, or in a
// class of Teach), whose snapshots go to whoever opened it. It stops when the tab changes or
// the page is hidden.

import { onTabLeft } from './tabs.js';
import { $, showError } from './ui.js';

/** @type {MediaStream | null} */
let stream = null;
/** What a snapshot is for (the caller of openCamera). @type {((photo: File) => void) | null} */
let onSnap = null;

/**
 * Opens the camera inside `place` (an element); each photo taken goes to `take`.
 * @param {HTMLElement} place
 * @param {(photo: File) => void} take
 */
export async function openCamera(place, take) {
  onSnap = take;
  try {
    stream ??= await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  } catch (e) {
    showError(`No camera: ${e.message}`);
    return;
  }
  const cam = $('camera');
  $('camera-video').srcObject = stream;
  cam.hidden = false;
  place.append(cam);
  $('camera-snap').focus();
}

export function closeCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  $('camera').hidden = true;
}

onTabLeft(closeCamera);
// A camera left on in a background tab keeps its light on: it stops when the page is hidden.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) closeCamera();
});
$('camera-close').addEventListener('click', closeCamera);
$('camera-snap').addEventListener('click', async () => {
  const v = $('camera-video');
  const c = new OffscreenCanvas(v.videoWidth || 640, v.videoHeight || 480);
  /** @type {OffscreenCanvasRenderingContext2D} */ (c.getContext('2d')).drawImage(v, 0, 0, c.width, c.height);
  const blob = await c.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
  const file = new File([blob], `camera-${Date.now()}.jpg`, { type: 'image/jpeg' });
  onSnap?.(file);
});
