"""Online appraisal (在线鉴定): consent, the institution agreed or drawn, materials, the signed opinion, evaluation."""
