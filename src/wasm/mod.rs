//! The WebAssembly API (wasm-bindgen): load a Keras model from its structure JSON and weights
//! (or a `.keras` / full-model `.h5` file), inspect it, and predict. Every failure is a real JS
//! `Error` carrying Glimpse's message; results are read back asynchronously only.
//!
//! This is the engine's first browser surface, on the CPU (flex) backend; the WebGPU backend,
//! image inputs, training and the npm package build on it.

use crate::model::{default_device, Model};
use js_sys::{Array, Float32Array, Object, Reflect};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

fn js_err(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A loaded Keras model.
#[wasm_bindgen(js_name = Model)]
pub struct WasmModel {
    model: Rc<Model>,
}

/// Loads a model from its structure JSON text and the bytes of a `.weights.h5` (Keras 3) or
/// `save_weights` `.h5` (Keras 2) file.
#[wasm_bindgen(js_name = loadModel)]
pub fn load_model(structure: &str, weights: &[u8]) -> Result<WasmModel, JsError> {
    let model =
        Model::from_json_and_weights(structure, weights.to_vec(), "weights", &default_device())
            .map_err(js_err)?;
    Ok(WasmModel {
        model: Rc::new(model),
    })
}

/// Loads a `.keras` zip or a full-model `.h5` (structure and weights in one file).
#[wasm_bindgen(js_name = loadModelFile)]
pub fn load_model_file(bytes: &[u8]) -> Result<WasmModel, JsError> {
    let model =
        Model::from_archive(bytes.to_vec(), "model file", &default_device()).map_err(js_err)?;
    Ok(WasmModel {
        model: Rc::new(model),
    })
}

fn shape_array(dims: &[usize]) -> Array {
    let a = Array::new();
    a.push(&JsValue::NULL);
    for &d in dims {
        a.push(&JsValue::from(d as u32));
    }
    a
}

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// Keras' summary table.
    pub fn summary(&self) -> String {
        self.model.summary().to_string()
    }

    /// The input shape, batch first (`null`), as Keras writes it.
    #[wasm_bindgen(getter, js_name = inputShape)]
    pub fn input_shape(&self) -> Array {
        shape_array(&self.model.input_shapes()[0])
    }

    /// The output shape, batch first (`null`).
    #[wasm_bindgen(getter, js_name = outputShape)]
    pub fn output_shape(&self) -> Array {
        shape_array(&self.model.output_shapes()[0])
    }

    /// Number of parameters (Keras' `count_params()`).
    #[wasm_bindgen(js_name = countParams)]
    pub fn count_params(&self) -> f64 {
        self.model.count_params() as f64
    }

    /// Predicts a batch: `data` in Keras' layout (channels last), `shape` batch first. Resolves
    /// to `{ data: Float32Array, shape: number[] }`.
    pub fn predict(&self, data: Vec<f32>, shape: Vec<u32>) -> js_sys::Promise {
        let model = self.model.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            let (values, out_shape) = model
                .predict_async(data, &shape)
                .await
                .map_err(|e| JsValue::from(js_err(e)))?;
            let result = Object::new();
            Reflect::set(
                &result,
                &"data".into(),
                &Float32Array::from(values.as_slice()),
            )?;
            let s = Array::new();
            for d in out_shape {
                s.push(&JsValue::from(d as u32));
            }
            Reflect::set(&result, &"shape".into(), &s)?;
            Ok(result.into())
        })
    }

    /// Frees the model's memory now (JS objects otherwise wait for the garbage collector).
    pub fn dispose(self) {}
}
