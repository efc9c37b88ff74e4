"""Scene reports (快处快赔): a minor accident reported by both drivers from their phones, the traffic police's desk,
the liability finding and the electronic accident finding (电子事故认定书) both drivers sign."""
