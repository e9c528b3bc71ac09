// The upload form's help follows the chosen dataset: only what that dataset takes is shown
// (the server renders it for the dataset chosen when the page was built).
const select = document.querySelector('.upload-form select[name="dataset"]');
if (select) {
  const show = () => {
    const takes = select.selectedOptions[0]?.dataset.takes;
    for (const p of document.querySelectorAll("#takes-help [data-takes]")) {
      p.hidden = p.dataset.takes !== takes;
    }
  };
  select.addEventListener("change", show);
  show();
}
