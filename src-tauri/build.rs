fn main() {
    // `tauri::generate_context!` embeds ../ui/dist. A workspace-wide `cargo build`/`cargo
    // test` may run before the UI is built (`npm --prefix ui run build`, done by
    // .ci/desktop.sh): then embed a page that says so instead of failing the build.
    let dist = std::path::Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        println!("cargo:warning=ui/dist is missing: the app will show a placeholder; run `npm --prefix ui ci && npm --prefix ui run build`");
        let _ = std::fs::create_dir_all(dist);
        let _ = std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>Crosswalk</title><p>The UI was not built. Run <code>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</code>, then rebuild.</p>",
        );
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::build()
}
