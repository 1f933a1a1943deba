/* hwlib: every sidebar button of the page works (Jupyter Book loads each .js file of _static/).

   sphinx-book-theme draws two buttons of class "primary-toggle" (one in the site header, one in
   the article header: the one shown on a phone and on a laptop), but pydata-sphinx-theme 0.17
   attaches its click handler (open the sidebar as a dialog on a narrow screen; on a wide one
   sphinx-book-theme's handler collapses or restores the sidebar) to the first button only, so
   the visible one does nothing by itself (pydata-sphinx-theme issue #2451); the same goes for
   "secondary-toggle". A click on a toggle that no handler took reaches the document (the
   theme's handlers stop its propagation) and is passed on here as a click on the first toggle
   of its kind, the one the theme handles. A theme that handles every toggle never lets a click
   get this far, so this does nothing there. */
document.addEventListener("click", (event) => {
  if (!(event.target instanceof Element)) return;
  for (const kind of [".primary-toggle", ".secondary-toggle"]) {
    const toggle = event.target.closest(kind);
    const handled = document.querySelector(kind);
    if (toggle && handled && toggle !== handled && !event.defaultPrevented) {
      event.preventDefault();
      handled.click();
      return;
    }
  }
});
