//! Image preparation for the JS side: pixels to a network input (crop, resize, scale), and
//! Keras' augmentation layers run on prepared batches.

use super::*;

/// `views` varied copies of a Keras-layout batch of network inputs (`shape` `[N, H, W, 3]`,
/// values 0..255), by Keras' augmentation layers in training mode: `spec` is the JSON of
/// [`crate::teach::augment::Augment`] (`{"flip": true, "rotate": 0.1, ...}`). Runs on the CPU
/// (cheap next to the network, and read back synchronously without blocking a GPU); returns
/// the views one after the other, each `[N, H, W, 3]`.
#[wasm_bindgen(js_name = augmentViews)]
pub fn augment_views(
    x: Vec<f32>,
    shape: Vec<usize>,
    spec: String,
    views: usize,
    seed: f64,
    batch: u32,
) -> Result<Vec<f32>, JsValue> {
    let aug: crate::teach::augment::Augment =
        serde_json::from_str(&spec).map_err(|e| js_input(&format!("augment: {e}")))?;
    if views == 0 || views > 16 {
        return Err(js_input(&format!(
            "augment: expected 1 to 16 views, found {views}"
        )));
    }
    let dev = Device::flex();
    let out = aug
        .views(&x, &shape, views, seed as u64, u64::from(batch), &dev)
        .map_err(js_err)?;
    let mut all = Vec::with_capacity(x.len() * views);
    for t in out {
        let v = crate::model::axes::to_keras_order(t)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| js_error(&format!("augment: {e:?}"), "backend"))?;
        all.extend(v);
    }
    Ok(all)
}

/// Prepares RGBA pixels (`ImageData.data`, `width` x `height`) as one network input: optional
/// central crop (`cropFraction` < 1), resize (`"bicubic"` or `"nearest"`) to `outHeight` x
/// `outWidth`, values 0..255 times `scale`, HWC order.
#[wasm_bindgen(js_name = prepareImage)]
#[allow(clippy::too_many_arguments)]
pub fn prepare_image(
    rgba: &[u8],
    width: u32,
    height: u32,
    out_height: u32,
    out_width: u32,
    crop_fraction: f64,
    resize: String,
    scale: f32,
) -> Result<Vec<f32>, JsValue> {
    // The crop first, from the RGBA bytes (only its pixels converted); then the resize.
    let img = crate::image::from_rgba_cropped(rgba, width, height, crop_fraction, "image")
        .map_err(js_err)?;
    crate::image::Prepare {
        height: out_height as usize,
        width: out_width as usize,
        crop_fraction: 1.0,
        resize,
        scale,
    }
    .apply(&img)
    .map_err(js_err)
}

/// The part of a `width x height` image that `prepareImage` keeps for `crop_fraction`:
/// `[left, top, width, height]` (the central square, or the whole image at 1). Pages that
/// draw only this part and pass it with a fraction of 1 get the same input.
#[wasm_bindgen(js_name = cropBox)]
pub fn crop_box(width: u32, height: u32, crop_fraction: f64) -> Result<Vec<u32>, JsValue> {
    let (x, y, w, h) = crate::image::crop_box(width, height, crop_fraction).map_err(js_err)?;
    Ok(vec![x, y, w, h])
}
