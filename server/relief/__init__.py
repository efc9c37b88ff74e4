"""Relief fund advances (救助基金垫付): a party's application, the fund's decision, recovery from the liable party."""
