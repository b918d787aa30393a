// wsdissect report: clicking a frame (an arrow of the diagram, or a diagnostic's link) shows
// its details in the panel beside the diagram. Without script, the links still work (:target).
(function () {
  "use strict";
  document.documentElement.classList.remove("nojs");
  function show(id, reveal) {
    var d = document.getElementById(id);
    if (!d || !d.classList.contains("detail")) return false;
    var panel = d.parentElement;
    panel.querySelectorAll(".detail.shown").forEach(function (e) { e.classList.remove("shown"); });
    d.classList.add("shown");
    panel.classList.add("has-sel");
    panel.scrollTop = 0;
    document.querySelectorAll(".fr.sel").forEach(function (e) { e.classList.remove("sel"); });
    var arrows = document.querySelectorAll('[data-frame="' + id + '"]');
    arrows.forEach(function (e) { e.classList.add("sel"); });
    if (history.replaceState) history.replaceState(null, "", "#" + id);
    if (reveal && arrows.length) arrows[0].scrollIntoView({ block: "center" });
    return true;
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest('a[href^="#f"]');
    if (!a) return;
    var id = decodeURIComponent(a.getAttribute("href").slice(1));
    if (show(id, !a.closest("svg"))) ev.preventDefault();
  });
  if (location.hash.length > 1) show(decodeURIComponent(location.hash.slice(1)), true);
})();
