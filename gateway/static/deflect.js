// Live suggestions while a customer describes a problem: after a pause in
// typing, asks /help/suggest for articles that may answer it and lists them
// in the page's #suggestions region (announced politely to screen readers).
// The page works without this script: it has a "search first" step.
// Built with textContent only: nothing from the answer is parsed as HTML.
(function () {
  "use strict";
  var input = document.querySelector("input[data-suggest-source]");
  var region = document.getElementById("suggestions");
  if (!input || !region || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var timer = null;
  var last = input.value.trim();
  var asked = 0;

  function render(articles) {
    region.textContent = "";
    if (!articles.length) {
      return;
    }
    var heading = document.createElement("h2");
    heading.textContent = "These articles may answer it";
    var list = document.createElement("ul");
    articles.forEach(function (article) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = article.url;
      link.textContent = article.title;
      link.target = "_blank";
      link.rel = "noopener";
      item.appendChild(link);
      if (article.snippet) {
        var snippet = document.createElement("p");
        snippet.className = "snippet";
        snippet.textContent = article.snippet;
        item.appendChild(snippet);
      }
      list.appendChild(item);
    });
    region.appendChild(heading);
    region.appendChild(list);
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var text = input.value.trim();
      if (text.length < 3 || text === last) {
        return;
      }
      last = text;
      var mine = ++asked;
      var query = new URLSearchParams({ q: text, ds: input.dataset.ds, from: input.dataset.suggestSource });
      fetch("/help/suggest?" + query.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { articles: [] }; })
        .then(function (body) {
          // An answer to an older text is dropped.
          if (mine === asked) {
            render(body.articles || []);
          }
        })
        .catch(function () {});
    }, 400);
  });
})();
