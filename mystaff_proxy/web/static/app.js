// My Staff: the only script. Copy buttons are hidden in the HTML and shown here, so
// without JavaScript the page shows just the password or pass (selectable with one tap).
// Times are written in UTC by the server, which does not know the manager's time zone;
// here they are shown in the device's own, in the page's language (<html lang>). The status
// sentences come from the page (data-copied, data-selected), translated by the server.
"use strict";
for (const time of document.querySelectorAll("time[data-local]")) {
  const moment = new Date(time.dateTime);
  if (Number.isNaN(moment.getTime())) continue;
  time.title = time.textContent;
  time.textContent = moment.toLocaleString(document.documentElement.lang || undefined, {
    month: "short", day: "numeric", hour: "numeric", minute: "2-digit"});
}
for (const button of document.querySelectorAll("button[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector(".copied");
  if (!source || !status) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      status.textContent = status.dataset.copied || "Copied.";
    } catch {
      // No clipboard access (e.g. plain http): select the text for a manual copy.
      window.getSelection().selectAllChildren(source);
      status.textContent = status.dataset.selected ||
        "Selected: copy it with your device's copy command.";
    }
  });
}
// The staff list's multi-select: "Select all on this page" and the count need a script, so
// they are hidden in the HTML; without one, the checkboxes alone still work.
for (const form of document.querySelectorAll("form[data-bulk]")) {
  const boxes = [...form.querySelectorAll('input[type="checkbox"][name="id"]')];
  const all = form.querySelector("input[data-select-all]");
  const count = form.querySelector(".selected-count");
  const submit = form.querySelector('button[type="submit"]');
  if (!all || !count || !submit) continue;
  const update = () => {
    const n = boxes.filter((box) => box.checked).length;
    count.textContent = (n === 1 ? count.dataset.one : count.dataset.other).replace("{n}", n);
    all.checked = n > 0 && n === boxes.length;
    all.indeterminate = n > 0 && n < boxes.length;
    submit.disabled = n === 0;
  };
  all.addEventListener("change", () => {
    for (const box of boxes) box.checked = all.checked;
    update();
  });
  for (const box of boxes) box.addEventListener("change", update);
  for (const hidden of form.querySelectorAll("[data-js]")) hidden.hidden = false;
  update();
}
// The slips: the browser's print dialog (the print stylesheet leaves only the slips).
for (const button of document.querySelectorAll("button[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
