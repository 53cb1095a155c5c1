// Static slider panels: each panel's frames (one PNG per precomputed setting) are embedded in the page as
// JSON; moving a slider swaps the picture. No kernel, no network.
"use strict";

function regvizStaticPanel(root) {
  const spec = JSON.parse(root.querySelector("script.regviz-frames").textContent);
  const img = root.querySelector("img.regviz-static-image");
  const note = root.querySelector(".regviz-static-note");
  const inputs = Array.from(root.querySelectorAll("input.regviz-static-slider"));
  function show() {
    const idx = inputs.map((input) => input.value);
    inputs.forEach((input, i) => {
      input.nextElementSibling.textContent = spec.controls[i].labels[input.value];
    });
    const frame = spec.frames[idx.join("-")];
    if (frame) {
      img.src = "data:image/png;base64," + frame;
      img.style.opacity = "1";
      note.textContent = "";
    } else {
      img.style.opacity = "0.35";
      note.textContent = "This combination was not precomputed: run the notebook (Binder or Colab) to train it.";
    }
  }
  inputs.forEach((input) => input.addEventListener("input", show));
  show();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".regviz-static-panel").forEach(regvizStaticPanel);
});
