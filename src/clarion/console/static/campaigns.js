// The campaign area's behaviour: template editors' line numbers (and the line of a refusal marked in them),
// and forms showing only the chosen channel's settings. No inline script (the CSP forbids them).
(function () {
  "use strict";

  function numberLines(editor) {
    var textarea = editor.querySelector("textarea");
    var gutter = editor.querySelector(".gutter");
    var count = Math.max(textarea.value.split("\n").length, parseInt(textarea.getAttribute("rows"), 10) || 1);
    var bad = parseInt(editor.getAttribute("data-bad-line") || "0", 10);
    var lines = [];
    for (var n = 1; n <= count; n++) lines.push(n === bad ? '<span class="bad">' + n + "</span>" : String(n));
    gutter.innerHTML = lines.join("\n");
    gutter.scrollTop = textarea.scrollTop;
  }

  function wireEditor(editor) {
    var textarea = editor.querySelector("textarea");
    textarea.addEventListener("input", function () { editor.removeAttribute("data-bad-line"); numberLines(editor); });
    textarea.addEventListener("scroll", function () { editor.querySelector(".gutter").scrollTop = textarea.scrollTop; });
    numberLines(editor);
  }

  // A refusal naming a field and a line (content.email.html, line 3) marks that line in its editor.
  function markError(problem) {
    var field = (problem.getAttribute("data-error-field") || "").replace(/^content\./, "");
    var textarea = document.getElementById("f-" + field);
    var editor = textarea && textarea.closest("[data-editor]");
    if (!editor) return;
    editor.setAttribute("data-bad-line", problem.getAttribute("data-error-line") || "0");
    numberLines(editor);
  }

  function showChannel(select) {
    document.querySelectorAll("fieldset[data-channel]").forEach(function (fieldset) {
      fieldset.hidden = fieldset.getAttribute("data-channel") !== select.value;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-editor]").forEach(wireEditor);
    document.querySelectorAll("[data-channel-switch]").forEach(function (select) {
      showChannel(select);
      select.addEventListener("change", function () { showChannel(select); });
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      document.querySelectorAll("[data-editor][data-bad-line]").forEach(function (editor) {
        editor.removeAttribute("data-bad-line"); numberLines(editor);
      });
      var problem = event.detail.target.querySelector("[data-error-field]");
      if (problem) markError(problem);
    });
  });
})();
