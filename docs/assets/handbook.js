// Clicking a clause number copies a link to that clause (and still jumps to it).
document.addEventListener("click", function (event) {
  var anchor = event.target.closest && event.target.closest("a.clause-id");
  if (!anchor || !navigator.clipboard) return;
  var url = location.href.split("#")[0] + anchor.getAttribute("href");
  navigator.clipboard.writeText(url).then(function () {
    anchor.classList.add("copied");
    setTimeout(function () { anchor.classList.remove("copied"); }, 1500);
  }, function () {});
});
