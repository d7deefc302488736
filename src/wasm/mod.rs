//! The WebAssembly API (wasm-bindgen), the low-level half of the npm package: `pkg/index.js`
//! wraps it in the documented JS API (`ready`, `loadModel`, `loadPretrained`, `Model`).
//!
//! - The backend is chosen once by `initBackend` (`backend.rs`): WebGPU (burn's wgpu backend, when the
//!   crate is built with the `webgpu` feature and the browser offers an adapter) or the CPU
//!   (burn's flex backend). Models load on that backend.
//! - Every failure is a real JS `Error` carrying Glimpse's message; results are read back
//!   asynchronously only.
//! - Training works on a copy of the model's variables (tensor handles, not data) and stores the
//!   result when it ends, so a `predict` during `fit` sees the previous weights instead of
//!   failing, and a stopped `fit` keeps what it learned.

mod backend;
mod fit;
mod image;
mod model;
mod teach;
#[cfg(feature = "threads")]
mod threads;

use backend::*;
use fit::*;
use model::*;

use crate::model::Model;
use crate::train::{self, Dataset, EpochLog, FitConfig, FitOptions, Samples};
use crate::weights::archive;
use burn::tensor::Device;
use js_sys::{Array, Float32Array, Function, Object, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A JS `Error` with `message` and `code` (the kind: [`crate::Error::code`]'s words).
fn js_error(message: &str, code: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

/// Glimpse's error as a JS `Error`: its message, and its kind as `code`.
fn js_err(e: crate::Error) -> JsValue {
    js_error(&e.to_string(), e.code())
}

/// A JS `Error` for an argument that cannot be used (`code` `input`).
fn js_input(message: &str) -> JsValue {
    js_error(message, "input")
}

fn shape_array(dims: &[usize]) -> Array {
    let a = Array::new();
    a.push(&JsValue::NULL);
    for &d in dims {
        a.push(&JsValue::from(d as u32));
    }
    a
}

fn get(o: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(o, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}
