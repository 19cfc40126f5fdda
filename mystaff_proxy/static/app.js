// My Staff: the only script. Copy buttons are hidden in the HTML and shown here, so
// without JavaScript the page shows just the password (selectable with one tap).
"use strict";
for (const button of document.querySelectorAll("button[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector(".copied");
  if (!source || !status) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      status.textContent = "Copied.";
    } catch {
      // No clipboard access (e.g. plain http): select the text for a manual copy.
      window.getSelection().selectAllChildren(source);
      status.textContent = "Selected: copy it with your device's copy command.";
    }
  });
}
