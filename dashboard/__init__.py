"""Streamlit dashboard over the results database: `streamlit run dashboard/app.py`."""
