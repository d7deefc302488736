//! Structure JSON → typed spec → graph with shape inference and budgets: any bytes give a
//! spec and a graph, or an error.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(spec) = glimpse::keras::parse_model(text) {
            if let Ok(graph) = glimpse::model::Graph::build(&spec) {
                let _ = glimpse::Summary::of_graph(&spec, &graph).to_string();
            }
        }
    }
});
